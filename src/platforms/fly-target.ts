/** A Fly Machines target: the secret holds an API token; machines are listed when not given. */
import * as z from "zod";
import { targetBase } from "./target-base.ts";

export const flyTarget = z
  .object({
    kind: z.literal("fly"),
    ...targetBase,
    app: z.string().min(1),
    machines: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type FlyTarget = z.infer<typeof flyTarget>;
