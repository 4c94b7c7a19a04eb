/** A Heroku target (dyno restart): the secret holds an API key. */
import * as z from "zod";
import { targetBase } from "./target-base.ts";

export const herokuTarget = z
  .object({
    kind: z.literal("heroku"),
    ...targetBase,
    app: z.string().min(1),
    /** One dyno by name (`web.1`): `DELETE /apps/{app}/dynos/{dyno}`. */
    dyno: z.string().min(1).optional(),
    /** Every dyno of one process type (`web`): `DELETE /apps/{app}/formations/{type}`. */
    processType: z.string().min(1).optional(),
  })
  .strict()
  .refine((t) => t.dyno === undefined || t.processType === undefined, {
    path: ["processType"],
    message: "cannot be set together with dyno: restart one dyno or one process type",
  });
export type HerokuTarget = z.infer<typeof herokuTarget>;
