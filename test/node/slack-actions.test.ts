/**
 * Parsing Slack's interactivity POST: real-shaped `block_actions` bodies (built and signed by the
 * fake Slack from a rendered message, so the buttons are the ones a user sees), and every way a
 * body can be wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeSlack, startFakeSlack } from "../../fakes/slack.ts";
import { newIncidentId } from "../../src/incident/ids.ts";
import type { IncidentDetail } from "../../src/incident/view.ts";
import { parseButtonValue, parseSlackAction } from "../../src/slack/actions.ts";
import { renderIncidentMessage, SLACK_ACTION_IDS } from "../../src/slack/render.ts";
import { verifySlackSignature } from "../../src/slack/signature.ts";

const GROUP = "65f0a1b2c3d4e5f6a7b8c9d0";
const REQUESTED_AT = "2026-03-01T10:02:00.000Z";
const incident: IncidentDetail = {
  id: newIncidentId(GROUP, new Date("2026-03-01T10:00:00Z")),
  cluster: { groupId: GROUP, name: "Cluster0" },
  state: "awaiting-approval",
  openedAt: "2026-03-01T10:00:00.000Z",
  updatedAt: REQUESTED_AT,
  alerts: [],
  journal: [
    {
      at: "2026-03-01T10:01:00.000Z",
      step: "stats",
      status: "ok",
      detail: { tier: "M0", current: 410, limit: 500 },
    },
    {
      at: REQUESTED_AT,
      step: "plan",
      status: "redeploy",
      detail: { target: "web", kind: "vercel", reason: "82%" },
    },
    { at: REQUESTED_AT, step: "approval", status: "requested", detail: { target: "web", kind: "vercel" } },
  ],
};

let fake: FakeSlack;
let ts: string;

beforeAll(async () => {
  fake = await startFakeSlack();
  const message = renderIncidentMessage({
    incident,
    mode: "approve",
    links: {},
    approvalButtons: true,
    now: new Date(),
  });
  const response = await fetch(`${fake.apiBaseUrl}/chat.postMessage`, {
    method: "POST",
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ channel: "incidents", ...message }),
  });
  ts = ((await response.json()) as { ts: string }).ts;
});
afterAll(() => fake.close());

/** A form body with `payload` set to this JSON. */
const form = (payload: unknown) => new URLSearchParams({ payload: JSON.stringify(payload) }).toString();

describe("parseSlackAction", () => {
  it.each([
    ["approve", SLACK_ACTION_IDS.approve],
    ["skip", SLACK_ACTION_IDS.skip],
    ["snooze", SLACK_ACTION_IDS.snooze],
  ] as const)("reads a click on %s from the displayed message", async (decision, actionId) => {
    const click = fake.interaction({ ts, actionId, user: { id: "U0APPROVER", name: "ana" } });
    // The fake signs like Slack: the body it builds verifies under its secret.
    const signed = await verifySlackSignature({
      rawBody: new TextEncoder().encode(click.body),
      timestamp: click.headers["x-slack-request-timestamp"]!,
      signature: click.headers["x-slack-signature"]!,
      secret: fake.signingSecret,
      now: new Date(),
    });
    expect(signed).toEqual({ ok: true });
    const channel = fake.message(ts)!.channel;
    const parsed = parseSlackAction(new TextEncoder().encode(click.body));
    expect(parsed).toEqual({
      ok: true,
      action: {
        decision,
        incidentId: incident.id,
        requestedAt: REQUESTED_AT,
        user: { id: "U0APPROVER", name: "ana" },
        actionTs: expect.stringMatching(/^\d+\.\d{6}$/),
        responseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/actions\//),
        channel,
        messageTs: ts,
      },
    });
    // A string body parses the same.
    expect(parseSlackAction(click.body)).toEqual(parsed);
  });

  it("ignores fields it does not use and accepts a minimal payload", () => {
    const parsed = parseSlackAction(
      form({
        type: "block_actions",
        user: { id: "W0ENTERPRISE" },
        actions: [
          { action_id: SLACK_ACTION_IDS.skip, value: incident.id, action_ts: "1712345678.000100", extra: 1 },
        ],
        brand_new_field: { anything: true },
      }),
    );
    expect(parsed).toEqual({
      ok: true,
      action: {
        decision: "skip",
        incidentId: incident.id,
        user: { id: "W0ENTERPRISE" },
        actionTs: "1712345678.000100",
      },
    });
  });

  it("answers typed errors for bodies that are not ours", () => {
    const good = fake.interaction({ ts, actionId: SLACK_ACTION_IDS.approve }).payload;
    expect(parseSlackAction("")).toEqual({ ok: false, error: "no-payload" });
    expect(parseSlackAction("text=hello")).toEqual({ ok: false, error: "no-payload" });
    expect(parseSlackAction(JSON.stringify(good))).toEqual({ ok: false, error: "no-payload" });
    expect(parseSlackAction("payload=%7Bnot-json")).toEqual({ ok: false, error: "invalid-json" });
    expect(parseSlackAction(form({ ...good, type: "view_submission" }))).toEqual({
      ok: false,
      error: "unsupported-type",
    });
    expect(parseSlackAction(form([1, 2]))).toMatchObject({ ok: false, error: "invalid-payload" });
    expect(parseSlackAction(form({ ...good, user: { id: "not-a-user" } }))).toMatchObject({
      ok: false,
      error: "invalid-payload",
      issues: [{ path: "user.id", message: "must be a Slack user id" }],
    });
    expect(parseSlackAction(form({ ...good, actions: [] }))).toMatchObject({ error: "invalid-payload" });
    expect(parseSlackAction(form({ ...good, response_url: "javascript:alert(1)" }))).toMatchObject({
      error: "invalid-payload",
    });
    const [action] = good.actions as Record<string, unknown>[];
    expect(
      parseSlackAction(form({ ...good, actions: [{ ...action, action_id: "someone-else.button" }] })),
    ).toEqual({
      ok: false,
      error: "unknown-action",
    });
    expect(parseSlackAction(form({ ...good, actions: [{ ...action, action_ts: undefined }] }))).toMatchObject(
      {
        error: "invalid-payload",
      },
    );
  });

  it("rejects a value that is not an incident id, even from our own button", () => {
    for (const value of [
      undefined,
      "",
      "<!channel>",
      "../etc",
      `${incident.id}@yesterday`,
      `${incident.id.toUpperCase()}`,
    ]) {
      const click = fake.interaction({ ts, actionId: SLACK_ACTION_IDS.approve, value: value ?? "" });
      const payload = click.payload as { actions: Record<string, unknown>[] };
      if (value === undefined) delete payload.actions[0]!.value;
      expect(parseSlackAction(form(payload))).toEqual({ ok: false, error: "invalid-value" });
    }
  });

  it("picks our action among several", () => {
    const good = fake.interaction({ ts, actionId: SLACK_ACTION_IDS.snooze }).payload as {
      actions: unknown[];
    };
    const other = { action_id: "overflow-menu", action_ts: "1712345678.000001" };
    expect(parseSlackAction(form({ ...good, actions: [other, ...good.actions] }))).toMatchObject({
      ok: true,
      action: { decision: "snooze" },
    });
  });
});

describe("parseButtonValue", () => {
  it("reads the id alone or with the request time", () => {
    expect(parseButtonValue(incident.id)).toEqual({ incidentId: incident.id });
    expect(parseButtonValue(`${incident.id}@${REQUESTED_AT}`)).toEqual({
      incidentId: incident.id,
      requestedAt: REQUESTED_AT,
    });
    expect(parseButtonValue(`${incident.id}@`)).toBeNull();
    expect(parseButtonValue("nope")).toBeNull();
  });
});
