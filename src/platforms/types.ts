/**
 * The contract every redeploy/restart adapter keeps (one module per platform in this folder).
 *
 * Deploy hooks are not idempotent: every call starts a build. So an adapter never retries a call
 * that may have reached the platform, and says plainly when it cannot know whether it did
 * (`unknown`): the pipeline then never fires that target again automatically and asks a human.
 */
import type { Target } from "./targets.ts";

export interface RedeployRequest {
  incidentId: string;
  /** One short line: why the responder acts (shown to the platform where it has a field for it). */
  reason: string;
  /** Stable per incident, target and attempt: lets receivers that support it drop a repeat. */
  idempotencyKey: string;
}

/** What one call would do, safe to journal and show: no hook URL, token or key. */
export interface PlannedCall {
  target: string;
  kind: Target["kind"];
  /** e.g. "restart", "redeploy", "build hook". */
  action: string;
  method: string;
  /** The endpoint with every secret part replaced by the target's name, e.g. "vercel deploy hook (web)". */
  endpoint: string;
}

export type RedeployOutcome =
  /** The platform accepted the request. */
  | { kind: "started"; detail: string; deployId?: string }
  /** The platform refused, or the request provably never left: safe to report, nothing happened. */
  | { kind: "failed"; detail: string; status?: number; code?: string }
  /** The request may have reached the platform but no answer came (timeout, reset, 502/504). */
  | { kind: "unknown"; detail: string };

export interface RedeployAdapter {
  readonly target: Target;
  /** The call `redeploy` would make, for dry-run and the journal. */
  plan(request: RedeployRequest): PlannedCall;
  /**
   * Whether a deploy of this target is still running, where the platform can tell (else null).
   * A read: bounded and retried like any read; failures answer null, never throw.
   */
  deployInProgress(): Promise<boolean | null>;
  /** Fires the redeploy/restart once. Never retried; never throws for platform or network failures. */
  redeploy(request: RedeployRequest): Promise<RedeployOutcome>;
}
