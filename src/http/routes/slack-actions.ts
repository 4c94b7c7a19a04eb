/**
 * `POST /slack/actions`: Slack's interactivity endpoint for the Approve / Skip / Snooze buttons.
 *
 * Checked in this order: size, the v0 signature over the raw body (5-minute window), the
 * `block_actions` payload. The decision is recorded in the incident's ledger, which is quick; the
 * work it unlocks runs from the ledger's alarm, so Slack gets its 200 well within 3 seconds. A
 * second click, a replay or a click on an older version of the message changes nothing. A click is
 * acknowledged with an empty 200, as Bolt does; what it changed is in the incident's journal.
 * Who may decide is ../../slack/approvers.ts's rule.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { parseIncidentId } from "../../incident/ids.ts";
import { describeError } from "../../observability/log.ts";
import { parseSlackAction } from "../../slack/actions.ts";
import { slackDecision } from "../../slack/approvers.ts";
import { createSlackClient } from "../../slack/client.ts";
import {
  SLACK_SIGNATURE_HEADER,
  SLACK_TIMESTAMP_HEADER,
  verifySlackSignature,
} from "../../slack/signature.ts";
import type { AppEnv } from "../app-env.ts";
import { jsonError } from "../errors.ts";

/** Interactivity payloads are a few KiB; Slack's own messages stay well under this. */
const MAX_ACTION_BODY_BYTES = 64 * 1024;

export const slackActions = new Hono<AppEnv>().post(
  "/",
  bodyLimit({ maxSize: MAX_ACTION_BODY_BYTES, onError: (c) => jsonError(c, 413, "payload too large") }),
  async (c) => {
    const { config, log, ledgers } = c.var;
    const secret = config.slack.signingSecret;
    if (!secret) {
      log.log("warn", "slack.actions-refused", { reason: "SLACK_SIGNING_SECRET is not configured" });
      return jsonError(c, 401, "invalid signature");
    }
    const body = new Uint8Array(await c.req.arrayBuffer());
    const check = await verifySlackSignature({
      rawBody: body,
      timestamp: c.req.header(SLACK_TIMESTAMP_HEADER) ?? null,
      signature: c.req.header(SLACK_SIGNATURE_HEADER) ?? null,
      secret,
      previousSecret: config.previousSecrets.slackSigning,
      now: new Date(),
    });
    if (!check.ok) {
      log.log("warn", "slack.actions-rejected", { reason: `signature ${check.reason}` });
      return jsonError(c, 401, "invalid signature");
    }
    // Until this stops appearing, Slack still signs with the secret being rotated out.
    if (check.previous) log.log("info", "slack.previous-secret", {});
    const parsed = parseSlackAction(body);
    if (!parsed.ok) {
      return jsonError(c, 400, "invalid payload", { issues: [{ path: "payload", message: parsed.error }] });
    }
    const { action } = parsed;
    const where = parseIncidentId(action.incidentId);
    if (!where)
      return jsonError(c, 400, "invalid payload", {
        issues: [{ path: "value", message: "not an incident" }],
      });

    const request = slackDecision(action, config.slack.approvers);
    try {
      const outcome = await ledgers.decide(where.groupId, action.incidentId, request);
      if (!request.allowed && action.responseUrl && config.slack.kind !== "none") {
        // Told privately, after Slack has its answer: the reply is a network call of its own.
        const reply = createSlackClient({
          fetch: (input, init) => fetch(input, init),
          config: config.slack,
        }).respond(
          action.responseUrl,
          // Text only: the client sends no `blocks` key for an empty list (Slack refuses `[]`).
          {
            text: "Only the approvers listed in SLACK_APPROVERS can approve this action. You can still skip or snooze it.",
            blocks: [],
          },
          { replaceOriginal: false, ephemeral: true },
        );
        c.executionCtx.waitUntil(
          reply.then((outcome) => {
            if (outcome.kind !== "delivered") log.log("warn", "slack.reply-failed", { error: outcome.error });
          }),
        );
      }
      log.log("info", "slack.decision", {
        incident: action.incidentId,
        decision: action.decision,
        user: action.user.id,
        applied: outcome.applied,
      });
      return c.body(null, 200);
    } catch (error) {
      log.log("error", "slack.actions-ledger-unavailable", describeError(error));
      return jsonError(c, 503, "ledger unavailable, retry later");
    }
  },
);
