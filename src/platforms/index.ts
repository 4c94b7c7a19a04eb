/**
 * The one door to the redeploy adapters: picks the module for a target's `kind` and hands it the
 * secrets it names. Callers (the pipeline, the CLIs) never import a platform module directly, so a
 * new platform is one module plus one `case` here — and the compiler refuses a `kind` without one.
 *
 * Trade-off: the secret lookup happens once, when the adapter is built, not per call. Config parsing
 * has already proved every named secret exists, so a missing one here is a bug and throws.
 */

import type { Clock, FetchLike } from "../outbound/http.ts";
import { createFlyAdapter } from "./fly.ts";
import { createHerokuAdapter } from "./heroku.ts";
import { createNetlifyAdapter } from "./netlify.ts";
import { createRailwayAdapter } from "./railway.ts";
import { createRenderAdapter } from "./render.ts";
import type { Target } from "./targets.ts";
import type { RedeployAdapter } from "./types.ts";
import { createVercelAdapter } from "./vercel.ts";
import { createWebhookAdapter } from "./webhook.ts";

export interface CreateRedeployAdapterOptions {
  target: Target;
  /** Looks a secret up by name (`Config.secret`); throws for a name the configuration does not hold. */
  secrets: (name: string) => string;
  /** The runtime's `fetch` in the Worker, src/outbound/node-fetch.ts in Node. */
  fetch: FetchLike;
  /** Budget per call (default DEFAULT_HTTP_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Clock for webhook signature timestamps. */
  clock?: Clock;
}

/** Builds the redeploy adapter for one configured target. */
export function createRedeployAdapter(options: CreateRedeployAdapterOptions): RedeployAdapter {
  const { target, fetch, timeoutMs } = options;
  const secret = options.secrets(target.secret);
  switch (target.kind) {
    case "vercel":
      return createVercelAdapter({ target, secret, fetch, timeoutMs });
    case "render":
      return createRenderAdapter({ target, secret, fetch, timeoutMs });
    case "railway":
      return createRailwayAdapter({ target, secret, fetch, timeoutMs });
    case "netlify":
      return createNetlifyAdapter({ target, secret, fetch, timeoutMs });
    case "fly":
      return createFlyAdapter({ target, secret, fetch, timeoutMs });
    case "heroku":
      return createHerokuAdapter({ target, secret, fetch, timeoutMs });
    case "webhook": {
      const signingSecret =
        target.signingSecret === undefined ? undefined : options.secrets(target.signingSecret);
      return createWebhookAdapter({ target, secret, signingSecret, fetch, timeoutMs, clock: options.clock });
    }
    default: {
      const unhandled: never = target;
      throw new Error(`no redeploy adapter for target kind ${(unhandled as Target).kind}`);
    }
  }
}

export type { PlannedCall, RedeployAdapter, RedeployOutcome, RedeployRequest } from "./types.ts";
