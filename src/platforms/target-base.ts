/**
 * What every redeploy target has, whatever its platform: its name, the secret that holds its hook
 * URL or token, an optional API origin, and which clusters and apps it owns. Each platform's own
 * fields sit beside its adapter (`<kind>-target.ts`); ./targets.ts puts them together for config.
 */
import * as z from "zod";

/** The name of a secret (a `wrangler secret` / `.dev.vars` key), never its value. */
export const secretName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, "must name a secret (A-Z, 0-9, _)");

const ownership = {
  /** Clusters whose incidents this target may be acted on for; empty = every cluster. */
  clusters: z.array(z.string().min(1)).default([]),
  /** Driver `appName`s this target's processes use (how connections are attributed on M10+). */
  appNames: z.array(z.string().min(1)).default([]),
  /** Driver `env.name`s (vercel, aws.lambda, …) this target's processes report. */
  envNames: z.array(z.string().min(1)).default([]),
};

export const targetBase = {
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, "must be 1–63 letters, digits, '.', '_' or '-'"),
  /** Name of the secret that holds the hook URL or API token. The value itself is never in config. */
  secret: secretName,
  /** Overrides the platform's API origin (a proxy, or a local fake in tests). Not used by hook URLs. */
  apiBaseUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  ...ownership,
};
