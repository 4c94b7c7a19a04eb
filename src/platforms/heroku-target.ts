/** A Heroku target (dyno restart): the secret holds an API key. */
import { z } from "zod";
import { targetBase } from "./target-base.ts";

export const herokuTarget = z
  .object({
    kind: z.literal("heroku"),
    ...targetBase,
    app: z.string().min(1),
    dyno: z.string().min(1).optional(),
  })
  .strict();
export type HerokuTarget = z.infer<typeof herokuTarget>;
