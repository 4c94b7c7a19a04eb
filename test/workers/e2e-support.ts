/** Drivers for the end-to-end tests: the fakes' control APIs, and waiting on an incident. */
import { inject } from "vitest";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { admin, deliver, json } from "./support.ts";

export interface JournalLine {
  at: string;
  step: string;
  status: string;
  detail: Record<string, unknown>;
}
export interface Incident {
  id: string;
  state: string;
  cluster: { groupId: string; name: string };
  journal: JournalLine[];
}

async function call<T>(
  base: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export const mongoControl = {
  url: () => inject("mongoControlUrl"),
  spawn: (fakeId: string, app: string, connections: number, env?: Record<string, string>) =>
    call<{ pid: number }>(inject("mongoControlUrl"), `/fakes/${fakeId}/leaky-apps`, {
      body: { app, connections, style: "clients", env },
    }),
  kill: (pid: number) => call(inject("mongoControlUrl"), `/leaky-apps/${pid}`, { method: "DELETE" }),
  stats: (fakeId: string) =>
    call<{
      open: number;
      rejected: number;
      openByApp: Record<string, number>;
      maxOpenByApp: Record<string, number>;
    }>(inject("mongoControlUrl"), `/fakes/${fakeId}`),
  waitOpen: (fakeId: string, count: number, appName?: string) =>
    call(inject("mongoControlUrl"), `/fakes/${fakeId}/wait-open`, {
      body: { count, appName, timeoutMs: 10_000 },
    }),
};

export const platforms = {
  calls: async (target: string) =>
    (
      await call<{
        calls: Array<{
          method: string;
          path: string;
          status: number | null;
          accepted: boolean;
          action: string;
        }>;
      }>(inject("platformsUrl"), `/__control/calls?target=${encodeURIComponent(target)}`)
    ).calls,
  failNext: (platform: string, fault: unknown, target: string, action?: string) =>
    call(inject("platformsUrl"), "/__control/fail-next", { body: { platform, fault, target, action } }),
  /** When `target` is redeployed, the fake kills the leaky app: that is what a redeploy does to a leak. */
  killOnRedeploy: (target: string, pid: number) =>
    call(inject("platformsUrl"), "/__control/on-redeploy", {
      body: { target, request: { method: "DELETE", url: `${inject("mongoControlUrl")}/leaky-apps/${pid}` } },
    }),
};

export const atlas = {
  /** Creates the project with its clusters in the fake Admin API; answers each cluster's process ids. */
  project: async (groupId: string, clusters: Array<{ name: string; tier: string }>) => {
    const made = await call<{ clusters: Array<{ name: string; processes: Array<{ id: string }> }> }>(
      inject("atlasApiUrl"),
      "/__fake/projects",
      { body: { groupId, clusters } },
    );
    return Object.fromEntries(made.clusters.map((c) => [c.name, c.processes.map((p) => p.id)]));
  },
  setConnections: (values: Record<string, number | null>) =>
    call(inject("atlasApiUrl"), "/__fake/connections", { method: "PUT", body: values }),
  fail: (groupId: string, status: number, count = 100) =>
    call(inject("atlasApiUrl"), "/__fake/faults", { body: { status, count, match: { path: groupId } } }),
  clearFaults: () => call(inject("atlasApiUrl"), "/__fake/faults", { method: "DELETE" }),
};

/** The fake Admin API's log of one project's requests for one operation. */
export async function atlasRequests(
  groupId: string,
  operationId: string,
): Promise<Array<{ method: string; status: number }>> {
  const { requests } = await call<{ requests: Array<{ method: string; status: number }> }>(
    inject("atlasApiUrl"),
    `/__fake/requests?groupId=${groupId}&operationId=${operationId}`,
  );
  return requests;
}

let alertSeq = 0;

/** Sends an open connection alert for a cluster, as Atlas would; answers the incident id. */
export async function alertFor(
  groupId: string,
  cluster: string,
  percent: number,
  changes: Record<string, unknown> = {},
) {
  alertSeq += 1;
  const body = alertWith(M0_CONNECTIONS_OPEN, {
    id: `${groupId.slice(0, 18)}${String(alertSeq).padStart(6, "0")}`,
    groupId,
    clusterName: cluster,
    replicaSetName: `${cluster.toLowerCase()}-shard-0`,
    hostnameAndPort: `${cluster.toLowerCase()}-shard-00-00.example.mongodb.net:27017`,
    currentValue: { number: percent, units: "RAW" },
    created: new Date().toISOString(),
    updated: new Date().toISOString(),
    ...changes,
  });
  const response = await deliver(body);
  if (response.status !== 202) throw new Error(`webhook answered ${response.status}`);
  const outcome = await json<{ incident: string }>(response);
  return { incident: outcome.incident, alert: body };
}

export async function incident(id: string): Promise<Incident> {
  return json<Incident>(await admin(`/incidents/${id}`));
}

/** Polls the incident until `done` holds (or fails after `timeoutMs`, showing its journal). */
export async function waitFor(
  id: string,
  done: (i: Incident) => boolean,
  timeoutMs = 20_000,
): Promise<Incident> {
  const deadline = Date.now() + timeoutMs;
  let last = await incident(id);
  while (!done(last)) {
    if (Date.now() > deadline) {
      throw new Error(
        `incident ${id} did not get there; state ${last.state}, journal:\n${steps(last).join("\n")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await incident(id);
  }
  return last;
}

export const settled = (i: Incident) => ["resolved", "escalated", "closed"].includes(i.state);

/** "step:status" for each journal line. */
export function steps(i: Incident): string[] {
  return i.journal.map((j) => `${j.step}:${j.status}`);
}
