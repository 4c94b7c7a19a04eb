/** A Netlify build hook target: the secret holds the hook URL. */
import * as z from "zod";
import { targetBase } from "./target-base.ts";

export const netlifyTarget = z.object({ kind: z.literal("netlify"), ...targetBase }).strict();
export type NetlifyTarget = z.infer<typeof netlifyTarget>;
