/**
 * Fly.io adapter over the Machines API (`https://api.machines.dev`, `Authorization: Bearer <token>`;
 * a `FlyV1 …` macaroon token is sent as given). A redeploy restarts machines of the app:
 * `POST /v1/apps/{app}/machines/{id}/restart`, for the configured `machines`, or else for every
 * machine the list (`GET /v1/apps/{app}/machines`) shows as `started` (stopped machines hold no
 * connections). Restarts run one after another, so the app keeps serving from the others.
 *
 * Several calls make one outcome: any `unknown` → `unknown` and the remaining machines are left
 * alone (the API is in trouble; a human looks); otherwise at least one restarted → `started`, with
 * the failures named; none restarted → `failed`. A failed machine does not stop the next one: Fly
 * limits restarts per machine (1/s, burst 3), and a stale pinned id should not spare the rest.
 *
 * `deployInProgress` is true when a machine is being `replacing`d, which is what `fly deploy` does
 * to machines. Trade-off: image builds happen outside the Machines API and are invisible here; a
 * restart does not conflict with a build, only with machines being replaced.
 */
import * as z from "zod";
import { DEFAULT_HTTP_TIMEOUT_MS, FLY_MAX_MACHINE_RESTARTS } from "../constants.ts";
import { describeUrl } from "../errors.ts";
import { cleartextRefusal } from "../outbound/delivery.ts";
import type { FetchLike } from "../outbound/http.ts";
import type { FlyTarget } from "./fly-target.ts";
import { createRedactor, finish, outcomeFor, sanitizePlatformText } from "./outcome.ts";
import { apiOrigin, createPlatformReader, fireOnce, nullOnFailure } from "./transport.ts";
import type { PlannedCall, RedeployAdapter, RedeployOutcome } from "./types.ts";

export interface FlyAdapterOptions {
  target: FlyTarget;
  /** The value of the secret `target.secret` names: a Fly API token (an app-scoped deploy token is enough). */
  secret: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

export const FLY_API_ORIGIN = "https://api.machines.dev";

const machineList = z.array(z.object({ id: z.string().min(1), state: z.string() }).loose());

/** Creates the adapter that restarts a Fly app's machines. */
export function createFlyAdapter(options: FlyAdapterOptions): RedeployAdapter {
  const { target, secret } = options;
  const send = options.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const redact = createRedactor([secret]);
  const origin = apiOrigin(target.apiBaseUrl, FLY_API_ORIGIN);
  const app = encodeURIComponent(target.app);
  const listUrl = new URL(`${origin}/v1/apps/${app}/machines`);
  const restartUrl = (id: string) =>
    new URL(`${origin}/v1/apps/${app}/machines/${encodeURIComponent(id)}/restart`);
  const label = `fly restart of ${target.app} (${target.name})`;
  const headers = {
    authorization: secret.startsWith("FlyV1 ") ? secret : `Bearer ${secret}`,
    accept: "application/json",
  };
  const reader = createPlatformReader("fly", send, timeoutMs);

  async function listMachines(): Promise<z.infer<typeof machineList>> {
    const refusal = cleartextRefusal(listUrl);
    if (refusal) throw new Error(refusal);
    const { body } = await reader.request({ method: "GET", url: listUrl, headers });
    const parsed = machineList.safeParse(body);
    if (!parsed.success) throw new Error("the machine list has an unexpected shape");
    return parsed.data;
  }

  function combine(results: { id: string; outcome: RedeployOutcome }[], skipped: string[]): RedeployOutcome {
    if (results.length === 1 && skipped.length === 0) {
      const only = results[0]!.outcome;
      return finish({ ...only, detail: `${label}: ${only.detail}` }, redact);
    }
    const restarted = results.filter((r) => r.outcome.kind === "started").map((r) => r.id);
    const parts = [
      restarted.length > 0 ? `restarted ${restarted.join(", ")}` : "restarted none",
      ...results.filter((r) => r.outcome.kind !== "started").map((r) => r.outcome.detail),
      ...(skipped.length > 0 ? [`not attempted: ${skipped.join(", ")}`] : []),
    ];
    const summary = `${label}: ${parts.join("; ")}`;
    if (results.some((r) => r.outcome.kind === "unknown"))
      return finish({ kind: "unknown", detail: summary }, redact);
    if (restarted.length > 0) return finish({ kind: "started", detail: summary }, redact);
    const first = results.find((r) => r.outcome.kind === "failed")?.outcome;
    const failed = first?.kind === "failed" ? first : undefined;
    return finish(
      {
        kind: "failed",
        detail: summary,
        ...(failed?.status === undefined ? {} : { status: failed.status }),
        ...(failed?.code === undefined ? {} : { code: failed.code }),
      },
      redact,
    );
  }

  return {
    target,
    plan: (): PlannedCall => {
      const which = target.machines ? target.machines.join(",") : "each started machine";
      return {
        target: target.name,
        kind: "fly",
        action: "restart machines (no rebuild)",
        method: "POST",
        endpoint: redact(`${describeUrl(listUrl)}/{${which}}/restart`),
      };
    },
    deployInProgress: () =>
      nullOnFailure(async () => (await listMachines()).some((machine) => machine.state === "replacing")),
    async redeploy() {
      let ids: string[];
      if (target.machines) {
        ids = [...target.machines];
      } else {
        try {
          ids = (await listMachines()).filter((m) => m.state === "started").map((m) => m.id);
        } catch (error) {
          const why = sanitizePlatformText(error instanceof Error ? error.message : String(error), redact);
          return finish(
            { kind: "failed", detail: `${label}: could not list machines (${why}); nothing was restarted` },
            redact,
          );
        }
      }
      if (ids.length === 0) {
        return finish({ kind: "failed", detail: `${label}: no started machines to restart` }, redact);
      }
      const skipped = ids.splice(FLY_MAX_MACHINE_RESTARTS);
      const results: { id: string; outcome: RedeployOutcome }[] = [];
      for (const [index, id] of ids.entries()) {
        const attempt = await fireOnce(send, { method: "POST", url: restartUrl(id), headers, timeoutMs });
        const outcome = outcomeFor(`machine ${id}`, attempt, redact);
        results.push({ id, outcome });
        if (outcome.kind === "unknown") {
          skipped.unshift(...ids.slice(index + 1));
          break;
        }
      }
      return combine(results, skipped);
    },
  };
}
