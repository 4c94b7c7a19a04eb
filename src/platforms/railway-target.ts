/** A Railway target (GraphQL API): the secret holds an API token. */
import * as z from "zod";
import { targetBase } from "./target-base.ts";

/**
 * Which kind of Railway token the secret holds; Railway reads each from its own header. Account and
 * workspace tokens (older docs: "team") go in `Authorization: Bearer`, a project token (the one
 * Railway recommends for deployment automation) in `Project-Access-Token`.
 */
export const RAILWAY_TOKEN_KINDS = ["account", "workspace", "project"] as const;
export type RailwayTokenKind = (typeof RAILWAY_TOKEN_KINDS)[number];

export const railwayTarget = z
  .object({
    kind: z.literal("railway"),
    ...targetBase,
    serviceId: z.string().min(1),
    environmentId: z.string().min(1),
    tokenKind: z.enum(RAILWAY_TOKEN_KINDS).default("account"),
  })
  .strict();
export type RailwayTarget = z.infer<typeof railwayTarget>;
