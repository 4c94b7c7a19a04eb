/**
 * A delivery storm, inside workerd through the Worker's own fetch handler and real Durable Objects:
 * Atlas re-sending one alert 1,000 times while 200 other alerts about the same cluster arrive, with
 * 200 requests in flight at once. Every delivery is answered 2xx and recorded once; the cluster gets
 * one incident, one redeploy and one Slack message (updated in place, a bounded number of times).
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { signAtlasBody } from "../../src/atlas/webhook-signature.ts";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { TEST_SECRETS } from "./bindings.ts";
import { E2E } from "./e2e-plan.ts";
import { atlas, incident, platforms, steps, waitFor } from "./e2e-support.ts";
import { admin, BASE, captureLogs, json } from "./support.ts";

const { groupId, cluster } = E2E.storm;
const TARGET = "storm-web";
const REPEATS = 1_000;
const DISTINCT = 200;
const IN_FLIGHT = 200;
/**
 * chat.update calls allowed for the whole storm: the message is brought up to date by the alarm,
 * not once per delivery, so 1,200 deliveries (201 of them journaled) must cost far fewer updates.
 */
const MAX_UPDATES = 20;

const logs = captureLogs(["webhook.recorded", "slack.failed"]);
let processes: string[] = [];

beforeAll(async () => {
  processes = (await atlas.project(groupId, [{ name: cluster, tier: "M0" }]))[cluster]!;
  // 430 of M0's 500 on every node: 86 %.
  await atlas.setConnections(Object.fromEntries(processes.map((p) => [p, 430])));
});

interface Signed {
  body: Uint8Array<ArrayBuffer>;
  signature: string;
  event: string;
}

async function signed(body: Record<string, unknown>, event: string): Promise<Signed> {
  const bytes = new TextEncoder().encode(JSON.stringify(body)) as Uint8Array<ArrayBuffer>;
  return { body: bytes, signature: await signAtlasBody(bytes, TEST_SECRETS.ATLAS_WEBHOOK_SECRET), event };
}

function post(delivery: Signed): Promise<Response> {
  return exports.default.fetch(
    new Request(`${BASE}/webhooks/atlas`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-mms-event": delivery.event,
        "x-mms-signature": delivery.signature,
      },
      body: delivery.body,
    }),
  );
}

async function slackControl<T>(path: string): Promise<T> {
  return (await fetch(`${inject("slack").baseUrl}/__control/${path}`)).json() as Promise<T>;
}

/** The fake Slack's messages about one incident, each with what a reader sees (the message shows the id). */
async function messagesAbout(id: string): Promise<Array<{ ts: string; text: string }>> {
  const { messages } = await slackControl<{ messages: Array<{ ts: string }> }>("messages");
  const about: Array<{ ts: string; text: string }> = [];
  for (const m of messages) {
    const { visible } = await slackControl<{ visible: { text: string } }>(
      `history?ts=${encodeURIComponent(m.ts)}`,
    );
    if (visible.text.includes(id)) about.push({ ts: m.ts, text: visible.text });
  }
  return about;
}

/** Reads until `done` holds (the Slack sync runs just after the step that changed the incident). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`timed out; last value: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

describe("a delivery storm", () => {
  it(`${REPEATS} deliveries of one alert and ${DISTINCT} distinct alerts, ${IN_FLIGHT} in flight: one incident, one redeploy, one message`, async () => {
    const now = new Date().toISOString();
    const alert = (n: number) =>
      alertWith(M0_CONNECTIONS_OPEN, {
        id: `e2e0000000000000000${String(n).padStart(5, "0")}`,
        groupId,
        clusterName: cluster,
        replicaSetName: `${cluster.toLowerCase()}-shard-0`,
        hostnameAndPort: `${cluster.toLowerCase()}-shard-00-0${n % 3}.example.mongodb.net:27017`,
        currentValue: { number: 86, units: "RAW" },
        created: now,
        updated: now,
      });
    const repeated = await signed(alert(0), "alert.open");
    const others = await Promise.all(
      Array.from({ length: DISTINCT }, (_, i) => signed(alert(i + 1), "alert.open")),
    );
    // The repeated alert first, then a distinct one after every fifth repeat.
    const every = REPEATS / DISTINCT;
    const queue: Signed[] = [];
    for (let i = 1; i <= REPEATS; i++) {
      queue.push(repeated);
      if (i % every === 0) queue.push(others[i / every - 1]!);
    }
    expect(queue).toHaveLength(REPEATS + DISTINCT);

    const statuses = new Map<number, number>();
    const incidents = new Set<string | null>();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < queue.length) {
          const response = await post(queue[next++]!);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          incidents.add((await json<{ incident: string | null }>(response)).incident);
        }
      }),
    );

    // Every delivery answered 2xx, and every one landed on the same incident.
    expect(Object.fromEntries(statuses)).toEqual({ 202: REPEATS + DISTINCT });
    expect(incidents.size).toBe(1);
    const [id] = [...incidents] as string[];
    // Recorded once each: one delivery per distinct alert, the rest known duplicates.
    const recorded = logs.of("webhook.recorded");
    expect(recorded).toHaveLength(REPEATS + DISTINCT);
    expect(recorded.filter((l) => l.status === "accepted")).toHaveLength(1 + DISTINCT);
    expect(recorded.filter((l) => l.status === "duplicate")).toHaveLength(REPEATS - 1);

    // The redeploy ends the leak; verification then sees the count drop.
    await waitFor(id!, (i) => steps(i).includes("action:started"));
    await atlas.setConnections(Object.fromEntries(processes.map((p) => [p, 40])));
    const done = await waitFor(id!, (i) => i.state === "resolved");

    const list = await json<{ incidents: Array<{ id: string }> }>(
      await admin(`/incidents?cluster=${cluster}&limit=200`),
    );
    expect(list.incidents.map((i) => i.id)).toEqual([id]);
    const detail = await json<{ alerts: unknown[] }>(await admin(`/incidents/${id}`));
    expect(detail.alerts).toHaveLength(1 + DISTINCT);
    expect(steps(done).filter((s) => s === "intake:opened")).toHaveLength(1);
    expect(steps(done).filter((s) => s === "action:sending")).toHaveLength(1);

    // One redeploy.
    const calls = await platforms.calls(TARGET);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ action: "redeploy", accepted: true });

    // One Slack message for the incident, posted once, updated in place to its end.
    const ours = await until(
      () => messagesAbout(id!),
      (list) => list.length === 1 && list[0]!.text.startsWith("Resolved:"),
    );
    expect(ours).toHaveLength(1);
    const { calls: slackCalls } = await slackControl<{
      calls: Array<{ method: string; ts?: string; status: number }>;
    }>("calls");
    const about = slackCalls.filter((c) => c.ts === ours[0]!.ts && c.status === 200);
    expect(about.filter((c) => c.method === "chat.postMessage")).toHaveLength(1);
    const updates = about.filter((c) => c.method === "chat.update").length;
    expect(updates).toBeGreaterThan(0);
    expect(updates).toBeLessThanOrEqual(MAX_UPDATES);
    // The channel is shared with other files: a post may meet its rate limit first, and nothing else.
    for (const line of logs.of("slack.failed")) expect(line).toMatchObject({ error: "ratelimited" });
    expect((await incident(id!)).state).toBe("resolved");
  }, 20_000);
});
