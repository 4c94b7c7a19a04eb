/**
 * The approval race, inside workerd: four approvers — two `U…` ids and two Enterprise Grid `W…` ids,
 * all in SLACK_APPROVERS — click Approve on the same message at the same moment, signed as Slack
 * sends them, and a fifth person who is not an approver clicks too. Exactly one redeploy goes out.
 *
 * Every click is answered before any outbound call is awaited, shown with the fakes and no clock:
 * the fake platform holds the redeploy unanswered until the test releases it, and the test releases
 * it only once all five click answers are in hand. A click that waited on the redeploy (or on
 * anything it sends) could not have been answered by then.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { E2E, E2E_RACE_APPROVERS } from "./e2e-plan.ts";
import { alertFor, atlas, platforms, steps, waitFor } from "./e2e-support.ts";
import { BASE, captureLogs } from "./support.ts";

const { groupId, cluster } = E2E.race;
const TARGET = "race-web";
const STRANGER = "U0RACEX5";

const logs = captureLogs(["webhook.recorded", "slack.decision", "slack.failed"]);
let processes: string[] = [];

beforeAll(async () => {
  processes = (await atlas.project(groupId, [{ name: cluster, tier: "M0" }]))[cluster]!;
  // 430 of M0's 500 on every node: 86 %.
  await atlas.setConnections(Object.fromEntries(processes.map((p) => [p, 430])));
});

async function call<T>(base: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
const slack = <T>(path: string, body?: unknown) =>
  call<T>(`${inject("slack").baseUrl}/__control/`, path, body);
const platform = <T>(path: string, body?: unknown) =>
  call<T>(`${inject("platformsUrl")}/__control/`, path, body);

interface Visible {
  text: string;
  buttons: Array<{ actionId: string }>;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`timed out; last value: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

/** The fake Slack's messages about one incident (the message shows its id). */
async function messagesAbout(id: string): Promise<Array<{ ts: string; visible: Visible }>> {
  const { messages } = await slack<{ messages: Array<{ ts: string }> }>("messages");
  const about: Array<{ ts: string; visible: Visible }> = [];
  for (const m of messages) {
    const { visible } = await slack<{ visible: Visible }>(`history?ts=${encodeURIComponent(m.ts)}`);
    if (visible.text.includes(id)) about.push({ ts: m.ts, visible });
  }
  return about;
}

describe("four approvers clicking Approve at the same moment", () => {
  it("one redeploy; every click answered while the redeploy is still held; a non-approver refused", async () => {
    await platform("fail-next", { platform: "vercel", fault: "hold", target: TARGET });
    const { incident: id } = await alertFor(groupId, cluster, 86);
    await waitFor(id, (i) => i.state === "awaiting-approval", 8_000);
    const [message] = await until(
      () => messagesAbout(id),
      (list) => list.length === 1 && list[0]!.visible.buttons.length === 3,
    );
    const ts = message!.ts;

    // Five clicks on the Approve button as displayed, signed by the fake Slack, then sent at once.
    const users = [...E2E_RACE_APPROVERS, STRANGER];
    const clicks = await Promise.all(
      users.map((id) =>
        slack<{ body: string; headers: Record<string, string> }>("interaction", {
          ts,
          actionId: "atlas-responder.approve",
          user: { id },
        }),
      ),
    );
    const answers = await Promise.all(
      clicks.map((c) =>
        exports.default.fetch(
          new Request(`${BASE}/slack/actions`, { method: "POST", headers: c.headers, body: c.body }),
        ),
      ),
    );
    // Acknowledged as Bolt does, an empty 200 each.
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe("");
    }

    // All five answers are in; the redeploy goes out from the alarm and is held, unanswered.
    const held = await until(
      () => platforms.calls(TARGET),
      (calls) => calls.length > 0,
    );
    expect(held).toEqual([expect.objectContaining({ action: "redeploy", status: null, accepted: false })]);
    // Only now may it go on.
    expect(await platform<{ released: number }>("release", { target: TARGET })).toEqual({ released: 1 });
    const acted = await waitFor(id, (i) => steps(i).includes("action:started"), 8_000);
    // The redeploy ended the leak; verification sees the count drop.
    await atlas.setConnections(Object.fromEntries(processes.map((p) => [p, 40])));
    const done = await waitFor(id, (i) => i.state === "resolved", 8_000);

    // Exactly one redeploy, and one approval in the journal, by one of the four.
    const calls = await platforms.calls(TARGET);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ action: "redeploy", status: 201, accepted: true });
    expect(steps(done).filter((s) => s === "action:sending")).toHaveLength(1);
    const approvals = acted.journal.filter((j) => j.step === "approval" && j.status === "approved");
    expect(approvals).toHaveLength(1);
    expect(E2E_RACE_APPROVERS).toContain(approvals[0]!.detail.by);
    expect(approvals[0]!.detail.source).toBe("slack");

    // Each click was heard: one applied, the other approvers' too late, the stranger's refused.
    const decisions = logs.of("slack.decision").filter((l) => l.incident === id);
    expect(decisions.map((l) => l.user).sort()).toEqual([...users].sort());
    expect(decisions.filter((l) => l.applied)).toEqual([
      expect.objectContaining({ user: approvals[0]!.detail.by, decision: "approve" }),
    ]);
    expect(decisions.find((l) => l.user === STRANGER)).toMatchObject({ applied: false });
    // A refusal is journaled only while the approval is still pending; never an approval by the stranger.
    for (const line of done.journal.filter((j) => j.step === "approval" && j.status === "refused"))
      expect(line.detail).toMatchObject({ by: STRANGER, reason: "not in SLACK_APPROVERS" });

    // The stranger, and only the stranger, is told privately through the click's response_url.
    const replies = await until(
      async () =>
        (
          await slack<{ calls: Array<{ method: string; ts?: string; status: number }> }>("calls")
        ).calls.filter((c) => c.method === "response_url" && c.ts === ts),
      (list) => list.length > 0,
    );
    expect(replies).toEqual([expect.objectContaining({ status: 200 })]);

    // The one message shows who approved, and no buttons are left to click.
    const [final] = await until(
      () => messagesAbout(id),
      (list) => list[0]?.visible.text.startsWith("Resolved:") === true,
    );
    expect(final!.visible.buttons).toEqual([]);
    expect(final!.visible.text).toContain(String(approvals[0]!.detail.by));
    for (const line of logs.of("slack.failed")) expect(line).toMatchObject({ error: "ratelimited" });
  }, 10_000);
});
