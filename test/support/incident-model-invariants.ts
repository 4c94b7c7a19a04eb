/**
 * The invariants of the incident core, as the model-based tests check them (./incident-model.ts):
 * pure checks over the in-memory store's whole state and over the calls that reached the outside.
 * Each throws an `InvariantError` naming the broken rule and the facts that break it.
 */
import { decodeEntry } from "../../src/incident/journal.ts";
import type { MemoryState } from "../../src/incident/memory-store.ts";

const HOUR = 3600_000;
/** The policy's rule: at most one failover per cluster per 24 h. */
const FAILOVER_INTERVAL_MS = 24 * HOUR;

/** One call that reached the outside world. `clear`: the core received its answer. */
export interface Landed {
  kind: "redeploy" | "failover" | "killop";
  key: string;
  target: string;
  incidentId: string;
  at: number;
  clear: boolean;
}

/** A broken invariant: the message says which, with the facts that break it. */
export class InvariantError extends Error {}

export function fail(message: string, facts: unknown): never {
  throw new InvariantError(`${message}: ${JSON.stringify(facts)}`);
}

/** The state did not change at all (a failed, duplicate or refused request). */
export function sameState(before: MemoryState, after: MemoryState, message: string): void {
  const a = JSON.stringify(before);
  const b = JSON.stringify(after);
  if (a !== b) fail(message, { before: JSON.parse(a).incidents, after: JSON.parse(b).incidents });
}

/** The caps the calls are checked against. */
export interface CallLimits {
  cooldownMinutes: number;
  maxActionsPerHour: number;
  maxRedeploysPerIncident: number;
}

/** Every delivery an answer accepted is recorded exactly once, and nothing else is. */
export function checkDeliveries(state: MemoryState, committed: ReadonlySet<string>): void {
  const counts = new Map<string, number>();
  for (const d of state.deliveries) counts.set(d.key, (counts.get(d.key) ?? 0) + 1);
  for (const [key, n] of counts) {
    if (n !== 1) fail("a delivery was recorded more than once", { key, n });
    if (!committed.has(key)) fail("a delivery was recorded that no answer accepted", { key });
  }
  for (const key of committed) if (!counts.has(key)) fail("an accepted delivery was lost", { key });
}

/** One live incident per cluster key; none stuck in a working phase with no run scheduled. */
export function checkIncidents(state: MemoryState, settled: boolean): void {
  const live = new Map<string, string>();
  for (const i of state.incidents) {
    const facts = { id: i.id, state: i.state, phase: i.phase, nextRunAt: i.nextRunAt };
    if (i.state !== "closed") {
      const other = live.get(i.clusterKey);
      if (other) fail("two live incidents for one cluster", { key: i.clusterKey, ids: [other, i.id] });
      live.set(i.clusterKey, i.id);
    }
    const resting = i.phase === "idle" || i.phase === "approval";
    if (!resting && i.nextRunAt === null) fail("an incident in a working phase with no run scheduled", facts);
    if (i.state === "acting" && i.phase !== "act") fail("acting outside the act phase", facts);
    if (i.state === "verifying" && i.phase !== "verify") fail("verifying outside the verify phase", facts);
    if ((i.state === "awaiting-approval") !== (i.phase === "approval"))
      fail("awaiting approval and the approval phase disagree", facts);
    if (i.phase === "approval" && (!i.decision || !i.approvalRequestedAt))
      fail("awaiting approval of nothing", facts);
    if (settled && (!resting || i.nextRunAt !== null)) fail("an incident did not come to rest", facts);
    const said = state.journal.filter((j) => j.incidentId === i.id && j.step === "incident").at(-1)?.status;
    if ((i.state === "escalated" || i.state === "resolved" || i.state === "closed") && said !== i.state)
      fail("the journal's last word on an incident is not its state", { ...facts, said });
    if (
      settled &&
      i.state !== "acting" &&
      state.actions.some((a) => a.incidentId === i.id && a.status === "sending")
    )
      fail("an action left as sending, its outcome never settled", facts);
    const alerts = state.alerts.filter((a) => a.incidentId === i.id);
    const open = alerts.filter((a) => a.status !== "CLOSED" && a.status !== "CANCELLED");
    if (i.state !== "closed" && alerts.length > 0 && open.length === 0)
      fail("an incident stays live after Atlas closed every alert that joined it", { ...facts, alerts });
  }
}

/** Every journal row decodes and belongs to an incident; every incident has a journal. */
export function checkJournal(state: MemoryState): void {
  const ids = new Set(state.incidents.map((i) => i.id));
  for (const row of state.journal) {
    const decoded = decodeEntry({ at: row.at, step: row.step, status: row.status, detail: row.detail });
    if (!decoded.ok) fail("a journal row does not decode", { row, error: decoded.error });
    if (Number.isNaN(Date.parse(row.at))) fail("a journal row with no time", row);
    if (!ids.has(row.incidentId)) fail("a journal row of no incident", row);
  }
  for (const id of ids) {
    if (!state.journal.some((j) => j.incidentId === id)) fail("an incident with an empty journal", { id });
  }
}

/**
 * Against what reached the outside: no call twice, none after an unknown outcome in its incident,
 * no more redeploys per incident than allowed, cooldowns, the hourly cap and the failover interval.
 */
export function checkCalls(landed: readonly Landed[], spec: CallLimits): void {
  const { cooldownMinutes, maxActionsPerHour, maxRedeploysPerIncident } = spec;
  const actions = landed.filter((c) => c.kind !== "killop");
  const keys = new Set<string>();
  const perIncident = new Map<string, number>();
  for (const [n, call] of landed.entries()) {
    if (keys.has(call.key)) fail("a call was fired twice", call);
    keys.add(call.key);
    const earlier = landed.slice(0, n).filter((c) => c.incidentId === call.incidentId && c.kind !== "killop");
    if (call.kind !== "killop" && earlier.some((c) => !c.clear))
      fail("a call was fired after an earlier call's outcome was unknown", { call, earlier });
    if (call.kind === "redeploy") {
      const k = `${call.incidentId}|${call.target}`;
      perIncident.set(k, (perIncident.get(k) ?? 0) + 1);
      if (perIncident.get(k)! > maxRedeploysPerIncident)
        fail("more redeploys per incident than allowed", call);
    }
  }
  for (const [n, call] of actions.entries()) {
    const previous = actions
      .slice(0, n)
      .filter((c) => c.target === call.target)
      .at(-1);
    if (previous && call.at - previous.at < cooldownMinutes * 60_000)
      fail("a cooldown was not respected", { previous, call });
    if (previous && call.kind === "failover" && call.at - previous.at < FAILOVER_INTERVAL_MS)
      fail("two failovers of a cluster within 24 h", { previous, call });
    const inHour = actions.filter((c) => c.at > call.at - HOUR && c.at <= call.at);
    if (inHour.length > maxActionsPerHour) fail("more actions in an hour than allowed", inHour);
  }
}
