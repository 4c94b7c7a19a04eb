/** Any HTTP endpoint: the secret holds the URL; `signingSecret` names the HMAC-SHA256 key. */
import * as z from "zod";
import { secretName, targetBase } from "./target-base.ts";

export const webhookTarget = z
  .object({ kind: z.literal("webhook"), ...targetBase, signingSecret: secretName.optional() })
  .strict();
export type WebhookTarget = z.infer<typeof webhookTarget>;
