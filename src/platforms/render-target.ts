/** A Render target: the secret holds a deploy hook URL, or with `serviceId` an API key (restart without rebuild). */
import * as z from "zod";
import { targetBase } from "./target-base.ts";

export const renderTarget = z
  .object({ kind: z.literal("render"), ...targetBase, serviceId: z.string().optional() })
  .strict();
export type RenderTarget = z.infer<typeof renderTarget>;
