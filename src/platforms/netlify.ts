/**
 * Netlify build hook adapter. The target's secret is the hook URL
 * (`https://api.netlify.com/build_hooks/<id>`), secret as a whole. One `POST` with body `{}` starts a
 * build; `trigger_title` (a query parameter Netlify shows as the deploy's message) carries the
 * incident and reason so the deploy list says why it happened. Netlify answers 200 with no body, so
 * there is no deploy id to report.
 *
 * Trade-off: a build hook grants no read access, so `deployInProgress` answers null. Netlify queues
 * a second build behind a running one rather than running both, which limits the harm of not knowing.
 */

import type { FetchLike } from "../outbound/http.ts";
import { createHookAdapter } from "./hook.ts";
import type { NetlifyTarget } from "./netlify-target.ts";
import type { RedeployAdapter, RedeployRequest } from "./types.ts";

export interface NetlifyAdapterOptions {
  target: NetlifyTarget;
  /** The value of the secret `target.secret` names: the build hook URL. */
  secret: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

/** Netlify shows the title in a one-line deploy list; longer titles only get cut there. */
const MAX_TRIGGER_TITLE = 120;

/** The deploy message Netlify shows for a build the responder started. */
export function netlifyTriggerTitle(request: RedeployRequest): string {
  const title = `atlas-responder ${request.incidentId}: ${request.reason}`.replace(/\s+/g, " ").trim();
  return title.length <= MAX_TRIGGER_TITLE ? title : `${title.slice(0, MAX_TRIGGER_TITLE - 1)}…`;
}

/** Creates the adapter that fires a Netlify build hook. */
export function createNetlifyAdapter(options: NetlifyAdapterOptions): RedeployAdapter {
  return createHookAdapter({
    ...options,
    label: `netlify build hook (${options.target.name})`,
    action: "redeploy (build hook, rebuilds)",
    prepare: (url, request) => {
      url.searchParams.set("trigger_title", netlifyTriggerTitle(request));
      return { headers: { "content-type": "application/json" }, body: "{}" };
    },
  });
}
