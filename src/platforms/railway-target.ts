/** A Railway target (GraphQL API): the secret holds an API token. */
import { z } from "zod";
import { targetBase } from "./target-base.ts";

export const railwayTarget = z
  .object({
    kind: z.literal("railway"),
    ...targetBase,
    serviceId: z.string().min(1),
    environmentId: z.string().min(1),
  })
  .strict();
export type RailwayTarget = z.infer<typeof railwayTarget>;
