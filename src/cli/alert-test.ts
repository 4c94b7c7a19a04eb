/**
 * `npm run alert:test -- --url URL [--secret S] [--cluster NAME] [--percent N] [--status OPEN|CLOSED] [--id ID] [--group ID]`
 *
 * Signs and sends a realistic connection alert, exactly as Atlas would, to any deployment of the
 * responder. The secret defaults to ATLAS_WEBHOOK_SECRET from .dev.vars or the environment; the
 * project to CLUSTERS' entry for the cluster, else a fixed sample id.
 * Every OPEN is a new Atlas alert (a fresh id); the tool prints the id and the exact command that
 * closes it (`--status CLOSED --id …`, which requires `--id`).
 * Exit 0 when the responder accepted it (2xx), 1 when it did not or could not be reached (the cause
 * printed), 2 for usage errors.
 */
import { randomBytes } from "node:crypto";
import { sampleConnectionAlert } from "../atlas/sample-alert.ts";
import { signAtlasBody } from "../atlas/webhook-signature.ts";
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import { type Io, parseCliArgs, runMain, usageError } from "./args.ts";

const SAMPLE_GROUP_ID = "5e5a000000000000000000aa";

export const USAGE = `usage: npm run alert:test -- --url URL [--secret S] [--cluster NAME] [--percent N] [--status OPEN|CLOSED] [--id ID] [--group ID]

  --url URL         the responder (its /webhooks/atlas path is added when the URL has none)
  --secret S        the webhook secret (default: ATLAS_WEBHOOK_SECRET)
  --cluster NAME    the alert's cluster (default Cluster0)
  --percent N       connections as a share of the limit, 0-100 (default 86)
  --status STATUS   OPEN (a new alert, a fresh id) or CLOSED (needs --id)
  --id ID           the alert to close: the id an OPEN run printed
  --group ID        the project id (default: CLUSTERS' entry for the cluster, else a sample id)
  --help            this text`;

const OPTIONS = {
  url: { type: "string" },
  secret: { type: "string" },
  cluster: { type: "string", default: "Cluster0" },
  percent: { type: "string", default: "86" },
  status: { type: "string", default: "OPEN" },
  id: { type: "string" },
  group: { type: "string" },
} as const;

type Values = { [K in keyof typeof OPTIONS]?: string };

/** A fresh 24-hex Atlas alert id. */
export function freshAlertId(): string {
  return randomBytes(12).toString("hex");
}

/** Why a request failed before any answer: the innermost cause's code (ECONNREFUSED, …) and message. */
export function describeNetworkError(error: unknown): string {
  if ((error as Error)?.name === "TimeoutError") return "timed out";
  const chain: unknown[] = [];
  for (let e: unknown = error; e && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  const inner = chain.at(-1) as { code?: unknown; message?: unknown; errors?: unknown } | undefined;
  // An AggregateError (both IPv4 and IPv6 refused) carries its codes on its members.
  const members = Array.isArray(inner?.errors) ? (inner.errors as Array<{ code?: unknown }>) : [];
  const code =
    typeof inner?.code === "string" ? inner.code : members.find((m) => typeof m.code === "string")?.code;
  const message = typeof inner?.message === "string" && inner.message ? inner.message : String(inner);
  return code && !message.includes(String(code)) ? `${String(code)} (${message})` : message;
}

/** Runs the command with `argv` and returns its exit code. */
export async function alertTest(
  argv: string[],
  env: Record<string, unknown>,
  out: (line: string) => void,
  err: (line: string) => void,
  fetchImpl: typeof fetch = fetch,
): Promise<number> {
  const io: Io = { out, err };
  const args = parseCliArgs<Values>(argv, OPTIONS, USAGE, io);
  if (!args.ok) return args.code;
  const values = args.values;
  const usage = (message: string) => usageError(message, USAGE, io);

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
  if (!/^\s*\d+(\.\d+)?\s*$/.test(String(values.percent)) || !(percent >= 0 && percent <= 100)) {
    return usage("--percent must be a number from 0 to 100");
  }
  const status = String(values.status).toUpperCase();
  if (status !== "OPEN" && status !== "CLOSED") return usage("--status must be OPEN or CLOSED");
  if (values.id !== undefined && !/^[0-9a-f]{24}$/i.test(values.id)) {
    return usage("--id must be a 24-character hex alert id");
  }
  if (status === "CLOSED" && values.id === undefined) {
    return usage("--status CLOSED needs --id: the id the OPEN run printed");
  }
  const alertId = values.id?.toLowerCase() ?? freshAlertId();
  const cluster = String(values.cluster);
  const groupId = String(values.group ?? configuredGroup(env, cluster) ?? SAMPLE_GROUP_ID);
  if (!/^[0-9a-f]{24}$/i.test(groupId)) return usage("--group must be a 24-character hex project id");

  const { body, event } = await sampleConnectionAlert({ groupId, cluster, percent, status, now: new Date() });
  body.id = alertId;
  const raw = JSON.stringify(body);
  const signature = await signAtlasBody(raw, secret);
  out(`POST ${target.origin}${target.pathname}  (${event}, ${cluster} at ${percent} %, alert ${alertId})`);
  let response: Response;
  try {
    response = await fetchImpl(target, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mms-event": event, "x-mms-signature": signature },
      body: raw,
      signal: AbortSignal.timeout(DEFAULT_HTTP_TIMEOUT_MS),
    });
  } catch (error) {
    err(`could not reach ${target.origin}: ${describeNetworkError(error)}`);
    return 1;
  }
  const text = await response.text();
  out(`${response.status} ${text}`);
  if (response.ok && status === "OPEN") {
    const flags = [
      `--url ${target.origin}${target.pathname}`,
      ...(values.secret !== undefined ? ["--secret '<the same secret>'"] : []),
      ...(values.cluster !== "Cluster0" ? [`--cluster ${shellWord(cluster)}`] : []),
      ...(values.group !== undefined ? [`--group ${groupId}`] : []),
      "--status CLOSED",
      `--id ${alertId}`,
    ];
    out(`alert id ${alertId}; close it with:\n  npm run alert:test -- ${flags.join(" ")}`);
  }
  return response.ok ? 0 : 1;
}

/** A word the shell reads back unchanged. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
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
  await runMain(
    "alert:test",
    ({ env }) => alertTest(process.argv.slice(2), env, console.log, console.error),
    () => [],
    USAGE,
  );
}
