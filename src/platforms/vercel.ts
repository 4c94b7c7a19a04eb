/**
 * Vercel deploy hook adapter. The target's secret is the hook URL
 * (`https://api.vercel.com/v1/integrations/deploy/prj_…/<key>`), secret as a whole: anyone holding it
 * can start builds. One `POST` with no body starts a production build of the hook's branch; Vercel
 * answers `{"job":{"id","state":"PENDING","createdAt"}}`.
 *
 * Trade-off: a hook grants no read access, so `deployInProgress` answers null ("cannot tell") even
 * when `projectId` is configured. Telling would need a Vercel API token (list deployments with
 * `state=BUILDING,QUEUED`), a second secret this target kind does not carry; the per-target cooldown
 * is the guard instead.
 */
import * as z from "zod";
import type { FetchLike } from "../outbound/http.ts";
import { createHookAdapter } from "./hook.ts";
import type { RedeployAdapter } from "./types.ts";
import type { VercelTarget } from "./vercel-target.ts";

export interface VercelAdapterOptions {
  target: VercelTarget;
  /** The value of the secret `target.secret` names: the deploy hook URL. */
  secret: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

const jobAnswer = z.object({
  job: z.object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/),
    state: z
      .string()
      .regex(/^[A-Z_]{1,32}$/)
      .optional(),
  }),
});

/** Creates the adapter that fires a Vercel deploy hook. */
export function createVercelAdapter(options: VercelAdapterOptions): RedeployAdapter {
  const label = `vercel deploy hook (${options.target.name})`;
  return createHookAdapter({
    ...options,
    label,
    action: "redeploy (deploy hook, rebuilds)",
    accept: (status, body) => {
      const parsed = jobAnswer.safeParse(body);
      if (!parsed.success) return { kind: "started", detail: `${label} accepted (${status})` };
      const { id, state } = parsed.data.job;
      return {
        kind: "started",
        detail: `${label} accepted: job ${id}${state ? ` ${state}` : ""}`,
        deployId: id,
      };
    },
  });
}
