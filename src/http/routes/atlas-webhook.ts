/**
 * `POST /webhooks/atlas`: Atlas alert intake, checked in DESIGN §3's order — size, content type,
 * signature, JSON, schema — then recorded in the project's ledger before the 202.
 *
 * Nothing slow happens here: stats, actions and Slack run later from the ledger's alarm, so Atlas
 * gets its answer in milliseconds and a retry never finds half a record.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  type AtlasAlert,
  alertIntent,
  atlasAlertBodySchema,
  isConnectionAlert,
  parseAtlasEvent,
  projectOfAlert,
  type RoutableCluster,
} from "../../atlas/alert.ts";
import { parseConnectionString } from "../../atlas/cluster-identity.ts";
import { checkAtlasSignature } from "../../atlas/webhook-signature.ts";
import type { Config } from "../../config/schema.ts";
import { MAX_WEBHOOK_BODY_BYTES } from "../../constants.ts";
import { describeError } from "../../observability/log.ts";
import type { AppEnv } from "../app-env.ts";
import { invalidPayload, issuesOf, jsonError } from "../errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** True for `application/json` and `application/<anything>+json`, with any parameters. */
function isJsonMediaType(contentType: string): boolean {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/** `CLUSTERS` with the hosts of each one's connection string, for alerts that name no project. */
function routableClusters(config: Config): RoutableCluster[] {
  return config.clustersMatching(null, null).map((c) => {
    const uri = config.mongoUriFor(c.groupId, c.name);
    const { hosts, srvHost } = uri ? parseConnectionString(uri) : { hosts: [] };
    return { groupId: c.groupId, name: c.name, hosts, ...(srvHost ? { srvHost } : {}) };
  });
}

export const atlasWebhook = new Hono<AppEnv>().post(
  "/",
  bodyLimit({ maxSize: MAX_WEBHOOK_BODY_BYTES, onError: (c) => jsonError(c, 413, "payload too large") }),
  async (c) => {
    const { config, log, ledgers } = c.var;
    const contentType = c.req.header("content-type");
    if (contentType !== undefined && !isJsonMediaType(contentType)) {
      return jsonError(c, 415, "unsupported media type: send application/json");
    }

    const body = new Uint8Array(await c.req.arrayBuffer());
    const signature = await checkAtlasSignature(
      body,
      c.req.header("x-mms-signature"),
      config.webhookSecret,
      config.previousSecrets.atlasWebhook,
    );
    if (!signature.ok) {
      log.log("warn", "webhook.rejected", {
        reason: `signature ${signature.reason}`,
        bytes: body.byteLength,
      });
      return jsonError(c, 401, "invalid signature");
    }

    let json: unknown;
    try {
      json = JSON.parse(utf8.decode(body));
    } catch {
      return invalidPayload(c, [{ path: "", message: "body is not valid UTF-8 JSON" }]);
    }
    const parsed = atlasAlertBodySchema.safeParse(json);
    if (!parsed.success) return invalidPayload(c, issuesOf(parsed.error));

    const route = projectOfAlert(parsed.data, parsed.data.groupId ? [] : routableClusters(config));
    if (!route.found) return invalidPayload(c, [{ path: "groupId", message: route.reason }]);
    const alert: AtlasAlert = { ...parsed.data, groupId: route.groupId };
    const header = c.req.header("x-mms-event");
    const event = parseAtlasEvent(header);
    if (header && !event) log.log("warn", "webhook.unknown-event", { alertId: alert.id });
    const delivery = {
      alert,
      event,
      intent: alertIntent(event, alert.status),
      relevant: isConnectionAlert(alert),
    };

    try {
      const outcome = await ledgers.record(alert.groupId, delivery);
      log.log("info", "webhook.recorded", {
        alertId: alert.id,
        groupId: alert.groupId,
        ...(route.via === "alert" ? {} : { routedBy: route.via }),
        // While this shows, some project still signs with ATLAS_WEBHOOK_SECRET_PREVIOUS.
        ...(signature.previous ? { signedWith: "previous secret" } : {}),
        mmsEvent: event,
        metric: alert.metricName ?? null,
        status: outcome.status,
        incident: outcome.incident,
      });
      return c.json(outcome, 202);
    } catch (error) {
      log.log("error", "webhook.ledger-unavailable", { alertId: alert.id, ...describeError(error) });
      return jsonError(c, 503, "ledger unavailable, retry later");
    }
  },
);
