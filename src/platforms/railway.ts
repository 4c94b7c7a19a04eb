/**
 * Railway adapter over the public GraphQL API (`POST https://backboard.railway.com/graphql/v2`,
 * `Authorization: Bearer <account or workspace token>`, or `Project-Access-Token: <project token>` when
 * the target's `tokenKind` is `project`). Redeploy is the mutation
 * `serviceInstanceRedeploy(environmentId, serviceId)`, which answers `{"data":{…:true}}`.
 * `deployInProgress` reads the newest deployment of the service in that environment
 * (`deployments(first: 1, input: {serviceId, environmentId})`).
 *
 * GraphQL reports most failures with HTTP 200 and an `errors` array ("Not Authorized", unknown
 * service): such an answer is `failed`, never `started`. A `false` result is `failed` too.
 *
 * Trade-off: the token's kind is configured (`tokenKind`, default `account`), never guessed from its
 * shape: Railway refuses a token sent under the wrong header, and all three kinds look alike.
 */
import * as z from "zod";
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import { describeUrl } from "../errors.ts";
import { cleartextRefusal } from "../outbound/delivery.ts";
import type { FetchLike } from "../outbound/http.ts";
import { createRedactor, outcomeFor, platformError } from "./outcome.ts";
import type { RailwayTarget } from "./railway-target.ts";
import { apiOrigin, createPlatformReader, fireOnce, nullOnFailure } from "./transport.ts";
import type { PlannedCall, RedeployAdapter } from "./types.ts";

export interface RailwayAdapterOptions {
  target: RailwayTarget;
  /** The value of the secret `target.secret` names: a Railway account or workspace token. */
  secret: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

export const RAILWAY_API_ORIGIN = "https://backboard.railway.com";

export const RAILWAY_REDEPLOY_MUTATION =
  "mutation serviceInstanceRedeploy($environmentId: String!, $serviceId: String!) {\n" +
  "  serviceInstanceRedeploy(environmentId: $environmentId, serviceId: $serviceId)\n}";

export const RAILWAY_LATEST_DEPLOYMENT_QUERY =
  "query latestDeployment($serviceId: String!, $environmentId: String!) {\n" +
  "  deployments(first: 1, input: { serviceId: $serviceId, environmentId: $environmentId }) {\n" +
  "    edges { node { id status } }\n  }\n}";

/** Deployment statuses that mean a deployment is still on its way (Railway's documented list). */
const RAILWAY_IN_PROGRESS = new Set(["QUEUED", "WAITING", "INITIALIZING", "BUILDING", "DEPLOYING"]);

const redeployAnswer = z.object({ data: z.object({ serviceInstanceRedeploy: z.boolean() }) });
const deploymentsAnswer = z.object({
  data: z.object({
    deployments: z.object({
      edges: z.array(z.object({ node: z.object({ id: z.string(), status: z.string() }) })),
    }),
  }),
});

function hasErrors(body: unknown): boolean {
  if (body === null || typeof body !== "object") return false;
  const errors = (body as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.length > 0;
}

/** Creates the adapter that redeploys a Railway service instance. */
export function createRailwayAdapter(options: RailwayAdapterOptions): RedeployAdapter {
  const { target, secret } = options;
  const send = options.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const redact = createRedactor([secret]);
  const url = new URL(`${apiOrigin(target.apiBaseUrl, RAILWAY_API_ORIGIN)}/graphql/v2`);
  const label = `railway redeploy of service ${target.serviceId} (${target.name})`;
  const auth: Record<string, string> =
    target.tokenKind === "project"
      ? { "project-access-token": secret }
      : { authorization: `Bearer ${secret}` };
  const headers = {
    ...auth,
    "content-type": "application/json",
    accept: "application/json",
  };
  const variables = { environmentId: target.environmentId, serviceId: target.serviceId };
  const reader = createPlatformReader("railway", send, timeoutMs);

  return {
    target,
    plan: (): PlannedCall => ({
      target: target.name,
      kind: "railway",
      action: "redeploy (serviceInstanceRedeploy)",
      method: "POST",
      endpoint: `${redact(describeUrl(url))} serviceInstanceRedeploy(environmentId: ${target.environmentId}, serviceId: ${target.serviceId})`,
    }),
    deployInProgress: () =>
      nullOnFailure(async () => {
        if (cleartextRefusal(url)) return null;
        const { body } = await reader.request({
          method: "POST",
          url,
          headers,
          json: { query: RAILWAY_LATEST_DEPLOYMENT_QUERY, variables },
          // A query changes nothing, so it is retried like any read.
          idempotent: true,
        });
        if (hasErrors(body)) return null;
        const parsed = deploymentsAnswer.safeParse(body);
        if (!parsed.success) return null;
        const latest = parsed.data.data.deployments.edges[0];
        // No deployment at all: nothing can be running.
        return latest ? RAILWAY_IN_PROGRESS.has(latest.node.status) : false;
      }),
    async redeploy() {
      const attempt = await fireOnce(send, {
        method: "POST",
        url,
        headers,
        body: JSON.stringify({ query: RAILWAY_REDEPLOY_MUTATION, variables }),
        timeoutMs,
      });
      return outcomeFor(label, attempt, redact, (status, body) => {
        if (hasErrors(body)) {
          const { code, message } = platformError(body, redact);
          return {
            kind: "failed",
            detail: `${label} answered ${status} with GraphQL errors${message ? `: ${message}` : ""}`,
            ...(code ? { code } : {}),
          };
        }
        const parsed = redeployAnswer.safeParse(body);
        if (!parsed.success) {
          // 2xx with neither `errors` nor the documented `data`: something answered, but whether
          // Railway acted cannot be read from it.
          return { kind: "unknown", detail: `${label} answered ${status} without the expected result` };
        }
        if (!parsed.data.data.serviceInstanceRedeploy) {
          return { kind: "failed", detail: `${label} answered false: Railway did not redeploy` };
        }
        return { kind: "started", detail: `${label} accepted` };
      });
    },
  };
}
