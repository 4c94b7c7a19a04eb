/**
 * Mention and link injection through every alert field, end to end through the real code: a signed
 * alert's body is parsed as the webhook parses it, recorded by the incident core, walked through
 * approval, action and verification, rendered by the real renderer at every step, and posted to
 * the honest fake Slack, whose record of every version says what a reader sees and what Slack would
 * act on. Whatever an alert says, the message mentions nobody (but the approver we chose to show),
 * links nowhere but to the cluster, and still shows the hostile text as text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeSlack, startFakeSlack, visibleOf } from "../../fakes/slack.ts";
import { incidentDetail } from "../../src/incident/view.ts";
import { createSlackClient } from "../../src/slack/client.ts";
import { renderIncidentMessage, type SlackMessage } from "../../src/slack/render.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { CoreHarness, GROUP, MINUTE } from "../support/core-harness.ts";

/** What an attacker who can make Atlas say something (a cluster name, a hostname) would try. */
const PAYLOADS = [
  "<!channel>",
  "<!here> and <!everyone>",
  "<@U0ATTACKER>",
  "<#C0PRIVATE>",
  "<!subteam^S0ONCALL>",
  "<https://evil.example/login|Approve here>",
  "<https://evil.example/>",
  "<mailto:x@evil.example|mail>",
  "&lt;!channel&gt;",
  "&amp;lt;@U0ATTACKER&amp;gt;",
  "&#60;!here&#62;",
  "@channel @here @everyone",
  "first line\n<!channel> second line",
  "*bold* _it_ `code` ```block```",
  "<!date^1700000000^{date}|<!channel>>",
  "\u202e<!channel>\u200b",
] as const;

/** The link the message may carry: the cluster in Atlas (built as src/slack/sync.ts builds it). */
const atlasLink = (cluster: string) =>
  `https://cloud.mongodb.com/v2/${GROUP}#/clusters/detail/${encodeURIComponent(cluster)}`;

const APPROVER = "U0APPROVER";

let fake: FakeSlack;
beforeAll(async () => {
  fake = await startFakeSlack({ channels: ["incidents"], postBurst: 1000, updatesPerMinute: 10_000 });
});
afterAll(() => fake.close());

/** An alert with `payload` in every free-text field Atlas fills, cut to each field's limit. */
function hostileAlert(payload: string, n: number) {
  const at = (s: string, max: number) => s.slice(0, max);
  return {
    ...M0_CONNECTIONS_OPEN,
    id: `aaaa0000000000000000${String(n).padStart(4, "0")}`,
    eventTypeName: at(payload, 128),
    typeName: at(payload, 128),
    alertConfigId: at(payload, 64),
    orgId: at(payload, 64),
    clusterName: at(`Shop ${payload}`, 128),
    replicaSetName: at(payload, 256),
    hostnameAndPort: at(payload, 300),
    humanReadable: payload,
    currentValue: { number: 90, units: at(payload, 64) },
  };
}

/** Every rendered version of the incident's message, each posted (then updated) in the fake Slack. */
async function walk(payload: string, n: number) {
  const h = new CoreHarness({ mode: "approve" });
  const alert = hostileAlert(payload, n);
  const cluster = alert.clusterName;
  const client = createSlackClient({
    fetch: (input, init) => fetch(input, init),
    config: {
      kind: "bot",
      token: fake.token,
      channel: "incidents",
      approvers: [],
      apiBaseUrl: fake.apiBaseUrl,
    },
  });
  const rendered: SlackMessage[] = [];
  let ref: { ts: string; channel: string } | undefined;
  const render = async () => {
    const detail = incidentDetail(h.store, GROUP, id)!;
    const message = renderIncidentMessage({
      incident: detail,
      mode: "approve",
      links: { atlasCluster: atlasLink(cluster) },
      approvalButtons: true,
      now: h.now(),
    });
    rendered.push(message);
    const outcome = await client.deliver(message, ref);
    // The fake refuses what Slack would refuse (invalid blocks, limits), so delivered means valid.
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ kind: "delivered" });
    if (outcome.kind === "delivered" && outcome.ts && outcome.channel)
      ref = { ts: outcome.ts, channel: outcome.channel };
  };

  const opened = h.deliver(alert);
  const id = opened.incident!;
  await h.run();
  await render(); // awaiting approval, with the plan
  // A re-notification, a non-connection alert naming the payload as its metric, and a manual run.
  h.advanceClock(MINUTE);
  h.deliver(
    { ...alert, updated: h.at(), currentValue: { number: 95, units: alert.currentValue.units } },
    "alert.update",
  );
  h.deliver({
    ...alert,
    id: `bbbb0000000000000000${String(n).padStart(4, "0")}`,
    metricName: payload.slice(0, 128),
  });
  h.store.transaction(() => h.trigger({ reason: payload, cluster }));
  await render();
  // Approved by someone whose name is the payload, then by the approver.
  h.decide(id, { decision: "approve", by: payload, source: "api" });
  await h.settle(5 * MINUTE);
  await render();
  h.stats = { current: 100, tier: "M0" };
  await h.settle();
  await render(); // resolved (or escalated), with before → after
  h.deliver({ ...alert, status: "CLOSED", updated: h.at() }, "alert.close");
  await h.settle();
  await render();
  return { h, id, cluster, rendered, ts: ref!.ts };
}

describe("Slack mention and link injection through every alert field", () => {
  it.each(PAYLOADS.map((p, i) => [JSON.stringify(p), p, i] as const))(
    "%s mentions nobody and links nowhere, in every version of the message",
    async (_label, payload, n) => {
      const { id, cluster, rendered, ts, h } = await walk(payload, n);
      expect(rendered.length).toBe(5);
      expect(h.steps(id)).toContain("approval:approved");

      const versions = fake.history(ts);
      expect(versions.length).toBe(rendered.length);
      for (const message of rendered) {
        const seen = visibleOf(message);
        expect(seen.mentions).toEqual([]);
        expect(seen.links).toEqual(seen.links.map(() => atlasLink(cluster)));
        // Raw markup: the only `<…>` we write are the cluster link and date tokens.
        const markup = JSON.stringify(message).match(/<[^<>]*>/g) ?? [];
        for (const token of markup)
          expect(token, token).toMatch(/^<(https:\/\/cloud\.mongodb\.com\/|!date\^\d+\^)/);
        // Broadcast words never stand alone; a line break never comes from outside text.
        expect(seen.text).not.toMatch(/(^|[^\u200b])@(channel|here|everyone)\b/);
      }
      // What the fake Slack kept is what we sent, and reads the same.
      const last = fake.visible(ts);
      expect(last.mentions).toEqual([]);
      expect(last.links.every((l) => l === atlasLink(cluster))).toBe(true);
      // The hostile text is shown as text: the cluster's name with it is still readable.
      // (Broadcast words carry a zero-width space, so compare without them.)
      const bare = (text: string) => text.replace(/\u200b/g, "");
      const flat = bare(payload.replace(/[\p{Cc}\u2028\u2029]+/gu, " ").trim());
      expect(bare(visibleOf(rendered[0]!).text)).toContain(`Shop ${flat}`.slice(0, 40));
    },
  );

  it("an approver is mentioned only as the one who decided, as a real user id", async () => {
    const h = new CoreHarness({ mode: "approve" });
    const { incident } = h.deliver(hostileAlert("<@U0ATTACKER>", 99));
    await h.run();
    h.decide(incident!, { decision: "approve", by: APPROVER, source: "slack" });
    await h.settle(5 * MINUTE);
    const detail = incidentDetail(h.store, GROUP, incident!)!;
    const seen = visibleOf(
      renderIncidentMessage({
        incident: detail,
        mode: "approve",
        links: { atlasCluster: atlasLink(detail.cluster.name) },
        approvalButtons: true,
        now: h.now(),
      }),
    );
    expect(seen.mentions.length).toBeGreaterThan(0);
    expect(new Set(seen.mentions)).toEqual(new Set([`<@${APPROVER}>`]));
    expect(seen.text).toContain("<@U0ATTACKER>");
  });
});
