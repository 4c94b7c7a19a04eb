/**
 * Who may decide from Slack. Only `SLACK_APPROVERS` (when set) may approve; anyone in the channel
 * may skip or snooze, since both only hold the responder back. The dashboard has its own rule:
 * holding `ADMIN_TOKEN` makes one an approver.
 */
import type { DecisionRequest } from "../incident/approval.ts";
import type { SlackActionRequest } from "./actions.ts";

/** The core's decision request for one verified button click. */
export function slackDecision(action: SlackActionRequest, approvers: readonly string[]): DecisionRequest {
  const allowed =
    action.decision !== "approve" || approvers.length === 0 || approvers.includes(action.user.id);
  return {
    decision: action.decision,
    by: action.user.id,
    source: "slack",
    ...(action.requestedAt !== undefined ? { requestedAt: action.requestedAt } : {}),
    allowed,
  };
}
