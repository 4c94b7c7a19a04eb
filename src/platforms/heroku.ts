/**
 * Heroku adapter over the Platform API (`https://api.heroku.com`, `Authorization: Bearer <API key>`
 * and the required `Accept: application/vnd.heroku+json; version=3`, without which Heroku answers
 * 406). A redeploy restarts dynos: `DELETE /apps/{app}/dynos` (all), `/apps/{app}/dynos/{dyno}` (one
 * dyno, e.g. `web.1`) or `/apps/{app}/formations/{type}` (every dyno of a process type, e.g. `web`,
 * as the Heroku CLI's `ps:restart web` does); Heroku answers 202 `{}`.
 * `deployInProgress` reads the newest build (`GET /apps/{app}/builds` with
 * `Range: started_at ..; order=desc, max=1;`): `pending` means a build is running.
 *
 * Trade-off: a restart is not a release, so it cannot fix code, but it drops every connection the
 * dynos hold without a build. Restarting all dynos at once briefly interrupts a single-dyno app;
 * configure `processType` (or one `dyno`) to restart less at once.
 */
import * as z from "zod";
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import { describeUrl } from "../errors.ts";
import { cleartextRefusal } from "../outbound/delivery.ts";
import type { FetchLike } from "../outbound/http.ts";
import type { HerokuTarget } from "./heroku-target.ts";
import { createRedactor, outcomeFor } from "./outcome.ts";
import { apiOrigin, createPlatformReader, fireOnce, nullOnFailure } from "./transport.ts";
import type { PlannedCall, RedeployAdapter } from "./types.ts";

export interface HerokuAdapterOptions {
  target: HerokuTarget;
  /** The value of the secret `target.secret` names: a Heroku API key or OAuth token. */
  secret: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

export const HEROKU_API_ORIGIN = "https://api.heroku.com";

/** Heroku refuses requests without the versioned media type (406 not_acceptable). */
export const HEROKU_ACCEPT = "application/vnd.heroku+json; version=3";

const buildList = z.array(z.object({ id: z.string(), status: z.string() }).loose());

/** Creates the adapter that restarts a Heroku app's dynos. */
export function createHerokuAdapter(options: HerokuAdapterOptions): RedeployAdapter {
  const { target, secret } = options;
  const send = options.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const redact = createRedactor([secret]);
  const origin = apiOrigin(target.apiBaseUrl, HEROKU_API_ORIGIN);
  const app = encodeURIComponent(target.app);
  const restartPath =
    target.processType !== undefined
      ? `formations/${encodeURIComponent(target.processType)}`
      : target.dyno !== undefined
        ? `dynos/${encodeURIComponent(target.dyno)}`
        : "dynos";
  const restartUrl = new URL(`${origin}/apps/${app}/${restartPath}`);
  const buildsUrl = new URL(`${origin}/apps/${app}/builds`);
  const what =
    target.processType !== undefined
      ? `the ${target.processType} dynos`
      : target.dyno !== undefined
        ? `dyno ${target.dyno}`
        : "all dynos";
  const label = `heroku restart of ${what} of ${target.app} (${target.name})`;
  const headers = { authorization: `Bearer ${secret}`, accept: HEROKU_ACCEPT };
  const reader = createPlatformReader("heroku", send, timeoutMs);

  return {
    target,
    plan: (): PlannedCall => ({
      target: target.name,
      kind: "heroku",
      action: `restart ${what} (no rebuild)`,
      method: "DELETE",
      endpoint: redact(describeUrl(restartUrl)),
    }),
    deployInProgress: () =>
      nullOnFailure(async () => {
        if (cleartextRefusal(buildsUrl)) return null;
        const { body } = await reader.request({
          method: "GET",
          url: buildsUrl,
          headers: { ...headers, range: "started_at ..; order=desc, max=1;" },
        });
        const parsed = buildList.safeParse(body);
        if (!parsed.success) return null;
        // No build at all: nothing can be running.
        return parsed.data[0]?.status === "pending";
      }),
    async redeploy() {
      const attempt = await fireOnce(send, { method: "DELETE", url: restartUrl, headers, timeoutMs });
      return outcomeFor(label, attempt, redact);
    },
  };
}
