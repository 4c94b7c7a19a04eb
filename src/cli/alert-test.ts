/**
 * `npm run alert:test -- --url URL [--secret S] [--cluster NAME] [--percent N] [--status OPEN|CLOSED] [--group ID]`
 *
 * Signs and sends a realistic connection alert, exactly as Atlas would, to any deployment of the
 * responder. The secret defaults to ATLAS_WEBHOOK_SECRET from .dev.vars or the environment; the
 * project to CLUSTERS' entry for the cluster, else a fixed sample id.
 * Exit 0 when the responder accepted it (2xx), 1 when it did not, 2 for usage errors.
 */
import { parseArgs } from "node:util";
import { sampleConnectionAlert } from "../atlas/sample-alert.ts";
import { signAtlasBody } from "../atlas/webhook-signature.ts";
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import { loadEnvironment } from "./environment.ts";

const SAMPLE_GROUP_ID = "5e5a000000000000000000aa";

const USAGE =
  "usage: npm run alert:test -- --url URL [--secret S] [--cluster NAME] [--percent N] [--status OPEN|CLOSED] [--group ID]";

/** Runs the command with `argv` and returns its exit code. */
export async function alertTest(
  argv: string[],
  env: Record<string, unknown>,
  out: (line: string) => void,
  err: (line: string) => void,
  fetchImpl: typeof fetch = fetch,
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: "string" },
        secret: { type: "string" },
        cluster: { type: "string", default: "Cluster0" },
        percent: { type: "string", default: "86" },
        status: { type: "string", default: "OPEN" },
        group: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const usage = (message: string) => {
    err(`${message}\n${USAGE}`);
    return 2;
  };

  const url = String(values.url ?? "");
  if (!url) return usage("--url is required");
  let target: URL;
  try {
    target = new URL(url);
    if (!/^https?:$/.test(target.protocol)) throw new Error();
  } catch {
    return usage("--url must be an http(s) URL");
  }
  if (!target.pathname || target.pathname === "/") target.pathname = "/webhooks/atlas";

  const secret = String(values.secret ?? env.ATLAS_WEBHOOK_SECRET ?? "");
  if (!secret) return usage("no secret: pass --secret or set ATLAS_WEBHOOK_SECRET");
  const percent = Number(values.percent);
  if (!Number.isFinite(percent) || percent < 0 || percent > 1000) return usage("--percent must be a number");
  const status = String(values.status).toUpperCase();
  if (status !== "OPEN" && status !== "CLOSED") return usage("--status must be OPEN or CLOSED");
  const cluster = String(values.cluster);
  const groupId = String(values.group ?? configuredGroup(env, cluster) ?? SAMPLE_GROUP_ID);
  if (!/^[0-9a-f]{24}$/i.test(groupId)) return usage("--group must be a 24-character hex project id");

  const { body, event } = await sampleConnectionAlert({ groupId, cluster, percent, status, now: new Date() });
  const raw = JSON.stringify(body);
  const signature = await signAtlasBody(raw, secret);
  out(`POST ${target.origin}${target.pathname}  (${event}, ${cluster} at ${percent} %)`);
  let response: Response;
  try {
    response = await fetchImpl(target, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mms-event": event, "x-mms-signature": signature },
      body: raw,
      signal: AbortSignal.timeout(DEFAULT_HTTP_TIMEOUT_MS),
    });
  } catch (error) {
    err(
      `could not reach ${target.origin}: ${(error as Error).name === "TimeoutError" ? "timed out" : (error as Error).message}`,
    );
    return 1;
  }
  const text = await response.text();
  out(`${response.status} ${text}`);
  return response.ok ? 0 : 1;
}

/** The project of the configured cluster with this name, if CLUSTERS names exactly one. */
function configuredGroup(env: Record<string, unknown>, cluster: string): string | undefined {
  try {
    const raw = env.CLUSTERS;
    const list = (typeof raw === "string" ? JSON.parse(raw) : raw) as Array<{
      groupId?: string;
      name?: string;
    }>;
    const matches = Array.isArray(list) ? list.filter((c) => c?.name === cluster) : [];
    return matches.length === 1 ? matches[0]!.groupId : undefined;
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const { env } = loadEnvironment();
  process.exitCode = await alertTest(process.argv.slice(2), env, console.log, console.error);
}
