/**
 * `TARGETS[]` entries: the union of every platform's target schema (each beside its adapter), which
 * config parses. Adding a platform is a `<kind>-target.ts`, its adapter, and one line here and in
 * ./index.ts — all in this folder.
 */
import * as z from "zod";
import { flyTarget } from "./fly-target.ts";
import { herokuTarget } from "./heroku-target.ts";
import { netlifyTarget } from "./netlify-target.ts";
import { railwayTarget } from "./railway-target.ts";
import { renderTarget } from "./render-target.ts";
import { vercelTarget } from "./vercel-target.ts";
import { webhookTarget } from "./webhook-target.ts";

export const targetSchema = z.discriminatedUnion("kind", [
  vercelTarget,
  renderTarget,
  railwayTarget,
  netlifyTarget,
  flyTarget,
  herokuTarget,
  webhookTarget,
]);
export type Target = z.infer<typeof targetSchema>;

export const TARGET_KINDS = ["vercel", "render", "railway", "netlify", "fly", "heroku", "webhook"] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
