/** A Vercel deploy hook target: the secret holds the hook URL. `projectId` enables the "deploy running" check. */
import * as z from "zod";
import { targetBase } from "./target-base.ts";

export const vercelTarget = z
  .object({
    kind: z.literal("vercel"),
    ...targetBase,
    projectId: z.string().optional(),
    teamId: z.string().optional(),
  })
  .strict();
export type VercelTarget = z.infer<typeof vercelTarget>;
