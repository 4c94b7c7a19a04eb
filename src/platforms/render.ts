/**
 * Render adapter, in one of two modes chosen by the target's config:
 *
 * - Deploy hook (no `serviceId`): the secret is the hook URL `https://api.render.com/deploy/srv-…?key=…`
 *   (secret as a whole; the key is in the query). One `POST` starts a deploy (a rebuild) and Render
 *   answers `{"deploy":{"id":"dep-…"}}`. Hooks share a limit of 10 per minute per service.
 *   No read access, so `deployInProgress` answers null.
 * - API (`serviceId` set): the secret is an API key. `POST /v1/services/{serviceId}/restart` with
 *   `Authorization: Bearer` restarts the running instances without a rebuild (202): the cheaper fix
 *   for leaked connections. `deployInProgress` reads the latest deploy (`GET …/deploys?limit=1`).
 *
 * Trade-off: with an API key the adapter restarts rather than redeploys. A restart drops every
 * connection just the same and cannot fail a build, but it does not pick up a code fix; teams that
 * want a rebuild configure the hook instead.
 */
import * as z from "zod";
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import { describeUrl } from "../errors.ts";
import { cleartextRefusal } from "../outbound/delivery.ts";
import type { FetchLike } from "../outbound/http.ts";
import { createHookAdapter } from "./hook.ts";
import { createRedactor, outcomeFor } from "./outcome.ts";
import type { RenderTarget } from "./render-target.ts";
import { apiOrigin, createPlatformReader, fireOnce, nullOnFailure } from "./transport.ts";
import type { PlannedCall, RedeployAdapter } from "./types.ts";

export interface RenderAdapterOptions {
  target: RenderTarget;
  /** The value of the secret `target.secret` names: the hook URL, or an API key when `serviceId` is set. */
  secret: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

export const RENDER_API_ORIGIN = "https://api.render.com";

/**
 * Deploy statuses that mean a deploy is on its way. Besides the three `*_in_progress` states,
 * `created` and `queued` count: firing another deploy behind a queued one is the double build
 * this check exists to prevent.
 */
const RENDER_IN_PROGRESS = new Set([
  "created",
  "queued",
  "build_in_progress",
  "update_in_progress",
  "pre_deploy_in_progress",
]);

const deployAnswer = z.object({ deploy: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/) }) });
const deployList = z.array(z.object({ deploy: z.object({ id: z.string(), status: z.string() }) }));

/** Creates the Render adapter: a deploy hook, or the restart API when `serviceId` is set. */
export function createRenderAdapter(options: RenderAdapterOptions): RedeployAdapter {
  const { target, secret } = options;
  const send = options.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const redact = createRedactor([secret]);
  const serviceId = target.serviceId;

  if (serviceId === undefined) {
    const label = `render deploy hook (${target.name})`;
    return createHookAdapter({
      ...options,
      label,
      action: "redeploy (deploy hook, rebuilds)",
      accept: (status, body) => {
        const parsed = deployAnswer.safeParse(body);
        if (!parsed.success) return { kind: "started", detail: `${label} accepted (${status})` };
        const id = parsed.data.deploy.id;
        return { kind: "started", detail: `${label} accepted: deploy ${id}`, deployId: id };
      },
    });
  }

  const origin = apiOrigin(target.apiBaseUrl, RENDER_API_ORIGIN);
  const service = encodeURIComponent(serviceId);
  const restartUrl = new URL(`${origin}/v1/services/${service}/restart`);
  const deploysUrl = new URL(`${origin}/v1/services/${service}/deploys?limit=1`);
  const label = `render restart of ${serviceId} (${target.name})`;
  const auth = { authorization: `Bearer ${secret}`, accept: "application/json" };
  const reader = createPlatformReader("render", send, timeoutMs);

  return {
    target,
    plan: (): PlannedCall => ({
      target: target.name,
      kind: "render",
      action: "restart (no rebuild)",
      method: "POST",
      endpoint: redact(describeUrl(restartUrl)),
    }),
    deployInProgress: () =>
      nullOnFailure(async () => {
        if (cleartextRefusal(deploysUrl)) return null;
        const { body } = await reader.request({ method: "GET", url: deploysUrl, headers: auth });
        const parsed = deployList.safeParse(body);
        if (!parsed.success) return null;
        const latest = parsed.data[0];
        // A service always has a first deploy; an empty list is an answer we do not understand.
        return latest ? RENDER_IN_PROGRESS.has(latest.deploy.status) : null;
      }),
    async redeploy() {
      const attempt = await fireOnce(send, { method: "POST", url: restartUrl, headers: auth, timeoutMs });
      return outcomeFor(label, attempt, redact);
    },
  };
}
