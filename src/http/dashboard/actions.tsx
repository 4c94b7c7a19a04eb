/** @jsxImportSource hono/jsx */
/**
 * Approve / Skip / Snooze from the dashboard: the form on the incident page and
 * `POST /ui/incidents/:id/decision`. The CSRF token is checked first (403, nothing changes); the
 * decision then goes through the ledger's `decide`, the same path and rules as a Slack click (mode,
 * stale requests and already-decided incidents are the core's business). Holding ADMIN_TOKEN makes
 * one an approver. The answer is a 303 back to the incident page (POST-redirect-GET).
 */
import type { Context } from "hono";
import * as z from "zod";
import type { HumanDecision } from "../../incident/approval.ts";
import { parseIncidentId } from "../../incident/ids.ts";
import { CSRF_FIELD, csrfMatches } from "./csrf.ts";
import type { DashboardEnv } from "./env.ts";
import { incidentPath, utc } from "./format.ts";
import { forbidden } from "./login.tsx";

export function DecisionForm(props: {
  incidentId: string;
  requestedAt: string;
  csrf: string;
  failover: boolean;
}) {
  return (
    <form method="post" action={`${incidentPath(props.incidentId)}/decision`} aria-label="Decision">
      <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
      <input type="hidden" name="requestedAt" value={props.requestedAt} />
      <p class="muted">
        Waiting for approval since {utc(props.requestedAt)}.
        {props.failover ? " Approving fails over the primary: every connection of the cluster drops." : ""}
      </p>
      <div class="actions">
        <button type="submit" name="decision" value="approve" class="primary">
          {props.failover ? "Approve test failover" : "Approve"}
        </button>
        <button type="submit" name="decision" value="skip">
          Skip
        </button>
        <button type="submit" name="decision" value="snooze">
          Snooze 1 h
        </button>
      </div>
    </form>
  );
}

const decisionForm = z.object({
  decision: z.enum(["approve", "skip", "snooze"]),
  requestedAt: z.string().min(1).max(64),
});

export async function decide(c: Context<DashboardEnv>) {
  const form = await c.req.parseBody();
  if (!(await csrfMatches(c.var.config.adminToken!, c.var.session, form[CSRF_FIELD]))) return forbidden(c);
  const id = c.req.param("id") ?? "";
  const where = parseIncidentId(id);
  const parsed = decisionForm.safeParse(form);
  if (!where || !parsed.success) return c.redirect(`${incidentPath(id)}?done=unchanged`, 303);
  const decision: HumanDecision = parsed.data.decision;
  const outcome = await c.var.ledgers.decide(where.groupId, id, {
    decision,
    by: "dashboard",
    source: "dashboard",
    requestedAt: parsed.data.requestedAt,
  });
  c.var.log.log("info", "dashboard.decision", { incident: id, decision, applied: outcome.applied });
  return c.redirect(`${incidentPath(id)}?done=${outcome.applied ? decision : "unchanged"}`, 303);
}
