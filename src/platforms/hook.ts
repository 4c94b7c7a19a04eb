/**
 * The shape every secret-URL hook shares (Vercel deploy hooks, Netlify build hooks, Render deploy
 * hooks): the whole URL is the secret, one `POST` starts a build, and there is no read access, so
 * whether a deploy is running cannot be told. Each platform module keeps only what differs: its
 * label, the request it sends and how it reads the answer.
 */
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import type { FetchLike } from "../outbound/http.ts";
import { type AcceptAnswer, createRedactor, outcomeFor, refused } from "./outcome.ts";
import type { Target } from "./targets.ts";
import { fireOnce, secretUrl } from "./transport.ts";
import type { RedeployAdapter, RedeployRequest } from "./types.ts";

export interface HookAdapterOptions {
  target: Target;
  /** The hook URL (the value of the secret the target names). */
  secret: string;
  fetch: FetchLike;
  timeoutMs?: number;
  /** How the hook is shown everywhere, e.g. "vercel deploy hook (web)". */
  label: string;
  /** What the call does, for plans and dry runs. */
  action: string;
  /** Adds what the platform accepts beyond a bare POST (query parameters, a body). */
  prepare?: (url: URL, request: RedeployRequest) => { headers?: Record<string, string>; body?: string };
  /** Reads a 2xx answer (a job or deploy id); without it any 2xx is "started". */
  accept?: AcceptAnswer;
}

/** A redeploy adapter that fires a secret-URL hook once. */
export function createHookAdapter(options: HookAdapterOptions): RedeployAdapter {
  const { target, secret, label } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const redact = createRedactor([secret]);
  return {
    target,
    plan: () => ({
      target: target.name,
      kind: target.kind,
      action: options.action,
      method: "POST",
      endpoint: label,
    }),
    async deployInProgress() {
      return null;
    },
    async redeploy(request) {
      const url = secretUrl(secret);
      if (!url) return refused(label, `secret ${target.secret} does not hold an http(s) URL`, redact);
      const extra = options.prepare?.(url, request) ?? {};
      const attempt = await fireOnce(options.fetch, { method: "POST", url, timeoutMs, ...extra });
      return outcomeFor(label, attempt, redact, options.accept);
    },
  };
}
