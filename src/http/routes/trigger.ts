/**
 * `POST /trigger`: a manual run. It only records (opening or joining the cluster's incident); the
 * ledger's alarm does the work, exactly as for an Atlas alert.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as z from "zod";
import type { Config } from "../../config/schema.ts";
import { describeError } from "../../observability/log.ts";
import type { AppEnv } from "../app-env.ts";
import { invalidPayload, issuesOf, jsonError } from "../errors.ts";

const triggerBody = z
  .object({
    groupId: z
      .string()
      .regex(/^[0-9a-f]{24}$/i, "must be a 24-character hex Atlas project id")
      .optional(),
    cluster: z.string().min(1).max(64).optional(),
    dryRun: z.boolean().default(false),
    reason: z.string().max(500).optional(),
  })
  .strict();

/** Fills in the project and cluster from `CLUSTERS` when the request leaves them out. */
function resolveTarget(
  body: z.infer<typeof triggerBody>,
  config: Config,
): { groupId: string; cluster: string } | { error: string } {
  if (body.groupId && body.cluster) return { groupId: body.groupId, cluster: body.cluster };
  const candidates = config.clustersMatching(body.groupId ?? null, body.cluster ?? null);
  if (candidates.length === 1) return { groupId: candidates[0]!.groupId, cluster: candidates[0]!.name };
  return {
    error:
      candidates.length === 0
        ? "groupId and cluster are required: CLUSTERS names no matching cluster"
        : "groupId and cluster are required: CLUSTERS names more than one matching cluster",
  };
}

/** A trigger body is a few fields; anything near this size is a mistake. */
const MAX_TRIGGER_BODY_BYTES = 8 * 1024;

export const trigger = new Hono<AppEnv>().post(
  "/",
  bodyLimit({ maxSize: MAX_TRIGGER_BODY_BYTES, onError: (c) => jsonError(c, 413, "payload too large") }),
  async (c) => {
    const text = await c.req.text();
    let json: unknown = {};
    if (text.trim() !== "") {
      try {
        json = JSON.parse(text);
      } catch {
        return invalidPayload(c, [{ path: "", message: "body is not valid JSON" }]);
      }
    }
    const parsed = triggerBody.safeParse(json);
    if (!parsed.success) return invalidPayload(c, issuesOf(parsed.error));
    const target = resolveTarget(parsed.data, c.var.config);
    if ("error" in target) return invalidPayload(c, [{ path: "cluster", message: target.error }]);
    try {
      const { incident } = await c.var.ledgers.trigger({
        groupId: target.groupId,
        cluster: target.cluster,
        dryRun: parsed.data.dryRun,
        reason: parsed.data.reason ?? null,
      });
      return c.json({ incident }, 202);
    } catch (error) {
      c.var.log.log("error", "trigger.ledger-unavailable", describeError(error));
      return jsonError(c, 503, "ledger unavailable, retry later");
    }
  },
);
