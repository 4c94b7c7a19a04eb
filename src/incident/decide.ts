/**
 * Decide: the policy's plan for the latest figures, and the move it implies — resolve, escalate,
 * wait, ask a person, or act. The plan itself is pure (src/response/policy.ts); this step only
 * gathers its inputs and applies the mode.
 */
import { preventionAdvice } from "../response/advice.ts";
import { type Decision, type PastAction, plan } from "../response/policy.ts";
import type { StepContext } from "./deps.ts";
import { type CallDetail, planDetail } from "./journal.ts";
import type { ActionRecord, IncidentRecord, StoredDecision } from "./record.ts";
import { awaitApproval, escalate, resolve, rest, startActing, waitUntil } from "./transitions.ts";

/** The escalation when a plan needs an approval and the configuration offers no way to give one. */
export const NOTHING_CAN_APPROVE =
  "approve mode, but nothing can approve: configure Slack with a signing secret, or ADMIN_TOKEN for the dashboard";

export async function decide(ctx: StepContext, incident: IncidentRecord): Promise<void> {
  const { deps, store } = ctx;
  const assessment = incident.last;
  if (!assessment) {
    // Nothing measured yet (a record from an interrupted run): measure first.
    store.transaction(() =>
      store.update(incident.id, deps.now().toISOString(), {
        phase: "gather",
        nextRunAt: deps.now().getTime(),
      }),
    );
    return;
  }
  const recentActions = await deps.limiter.recent(deps.now());
  const now = deps.now();
  const decision = plan({
    assessment,
    cluster: incident.clusterName,
    policy: deps.config.policy,
    targets: deps.config.targets,
    attempts: pastActions(store.actions(incident.id)),
    recentActions,
    lastFailoverAt: store.lastFailoverAt(incident.clusterKey),
    snoozedUntil: store.snoozedUntil(incident.clusterKey),
    now,
  });
  const at = now.toISOString();

  store.transaction(() => {
    const current = store.incident(incident.id);
    if (current?.phase !== "decide") return;
    const tried = store.actions(incident.id).some((a) => a.status !== "dry-run");
    store.journal(incident.id, at, { step: "plan", status: decision.kind, detail: planDetail(decision) });
    if (
      !current.advised &&
      (decision.kind === "redeploy" || decision.kind === "failover" || decision.kind === "no-targets")
    ) {
      const culprits = decision.kind === "redeploy" ? decision.culprits : [];
      store.journal(incident.id, at, {
        step: "advice",
        status: "ok",
        detail: { advice: preventionAdvice(assessment, culprits) },
      });
      store.update(incident.id, at, { advised: true });
    }
    const mode = current.mode ?? deps.config.modeFor(ctx.groupId, incident.clusterName);
    switch (decision.kind) {
      case "below-threshold":
        return resolve(store, current, at, assessment, { acted: tried });
      case "cannot-measure":
      case "unknown-outcome":
      case "exhausted":
      case "no-targets":
        return escalate(store, incident.id, at, escalationReason(decision, store.actions(incident.id)));
      case "snoozed":
        return waitUntil(store, incident.id, at, decision.until, { reopen: false });
      case "blocked":
        return waitUntil(store, incident.id, at, decision.until, { reopen: true });
      case "redeploy":
      case "failover": {
        const stored = storedDecision(decision);
        if (mode === "notify") {
          rest(store, incident.id, at, { decision: stored });
          store.journal(incident.id, at, {
            step: "action",
            status: "notify-only",
            detail: { wouldDo: planDetail(decision) },
          });
          return;
        }
        if (mode === "dry-run") {
          for (const call of plannedCalls(ctx, incident, decision)) {
            store.addAction({
              incidentId: incident.id,
              target: call.target,
              kind: call.kind,
              attempt: 0,
              status: "dry-run",
              at,
              idempotencyKey: `${incident.id}:${call.target}:dry-run`,
              detail: { ...call },
            });
            store.journal(incident.id, at, { step: "action", status: "dry-run", detail: { ...call } });
          }
          rest(store, incident.id, at, { decision: stored });
          return;
        }
        // Failover drops every connection of the cluster: it always waits for a human.
        if (mode === "approve" || decision.kind === "failover") {
          // A request nobody can answer would wait forever: say why, and hand it to a person.
          if (!deps.config.canApprove) return escalate(store, incident.id, at, NOTHING_CAN_APPROVE);
          return awaitApproval(store, incident.id, at, stored, planDetail(decision));
        }
        return startActing(store, incident.id, at, now.getTime(), stored);
      }
    }
  });
}

/** This incident's actions as the policy counts them (dry runs sent nothing). */
export function pastActions(actions: ReturnType<StepContext["store"]["actions"]>): PastAction[] {
  return actions
    .filter((a) => a.status !== "dry-run")
    .map((a) => ({ target: a.target, at: a.at, outcome: a.status as PastAction["outcome"] }));
}

/** The calls a decision would make, as dry-run shows them. */
function plannedCalls(
  ctx: StepContext,
  incident: IncidentRecord,
  decision: Extract<Decision, { kind: "redeploy" | "failover" }>,
): CallDetail[] {
  if (decision.kind === "redeploy") {
    return [
      ctx.deps
        .adapter(decision.target)
        .plan(actionRequest(incident.id, decision.target.name, 1, decision.reason)),
    ];
  }
  return [
    {
      target: incident.clusterName,
      kind: "atlas",
      action: "test failover",
      method: "POST",
      endpoint: "Atlas Admin API restartPrimaries",
    },
  ];
}

function storedDecision(decision: Extract<Decision, { kind: "redeploy" | "failover" }>): StoredDecision {
  return decision.kind === "redeploy"
    ? {
        kind: "redeploy",
        target: decision.target.name,
        reason: decision.reason,
        culprits: decision.culprits.map((c) => c.app),
      }
    : { kind: "failover", reason: decision.reason };
}

function escalationReason(
  decision: Extract<Decision, { kind: "cannot-measure" | "unknown-outcome" | "exhausted" | "no-targets" }>,
  actions: readonly ActionRecord[],
): string {
  switch (decision.kind) {
    case "cannot-measure":
      return "no source could measure the connections, so nothing was done blind";
    case "unknown-outcome":
      return `the outcome of an earlier call to ${decision.target} is unknown`;
    case "exhausted": {
      // A target whose every call the platform refused was never redeployed: say so, not "after redeploying".
      const refused = decision.tried.filter((name) => {
        const own = actions.filter((a) => a.target === name && a.status !== "dry-run");
        return own.length > 0 && own.every((a) => a.status === "failed");
      });
      const redeployed = decision.tried.filter((name) => !refused.includes(name));
      const parts = [
        redeployed.length > 0 ? `still above the threshold after redeploying ${redeployed.join(", ")}` : null,
        refused.length > 0
          ? `the platform refused the redeploy of ${refused.join(", ")}, so it did not run`
          : null,
      ].filter(Boolean);
      return parts.join("; ");
    }
    case "no-targets":
      return decision.reason;
  }
}

/** The request a redeploy sends; its key is stable per incident, target and attempt. */
export function actionRequest(incidentId: string, target: string, attempt: number, reason: string) {
  return { incidentId, reason, idempotencyKey: `${incidentId}:${target}:${attempt}` };
}
