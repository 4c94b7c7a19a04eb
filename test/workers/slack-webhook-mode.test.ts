/**
 * Slack through an incoming webhook (no bot token): the webhook can only post, so the incident is
 * posted when its state changes and not on every journal line. Driven directly on a ledger's
 * storage (no alarm is scheduled here), with a webhook-mode client against the fake Slack.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { newIncidentId } from "../../src/incident/ids.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { createConsoleLogger } from "../../src/observability/log.ts";
import { createSlackClient } from "../../src/slack/client.ts";
import { syncSlack } from "../../src/slack/sync.ts";

const GROUP = "e2e0000000000000000000aa";

async function webhookMessages(): Promise<Array<{ via: string; text: string }>> {
  const response = await fetch(`${inject("slack").baseUrl}/__control/messages`);
  const { messages } = (await response.json()) as { messages: Array<{ via: string; text: string }> };
  return messages.filter((m) => m.via === "webhook" && m.text.includes("WebhookCluster"));
}

describe("Slack in incoming-webhook mode", () => {
  it("posts on each change of state, not on every journal line", async () => {
    const slack = createSlackClient({
      fetch: (input, init) => fetch(input, init),
      config: { kind: "webhook", url: inject("slack").webhookUrl, approvers: [] },
    });
    const stub = env.LEDGER.getByName(`webhook-mode-${GROUP}`);
    await runInDurableObject(stub, async (instance: Ledger, state) => {
      const store = new LedgerStore(state.storage.sql, (fn) => state.storage.transactionSync(fn));
      store.migrate();
      const now = new Date();
      const at = (s: number) => new Date(now.getTime() + s * 1000).toISOString();
      const id = newIncidentId(GROUP, now);
      const sync = () =>
        syncSlack({
          groupId: GROUP,
          store,
          slack,
          approvalButtons: false,
          modeOf: () => "auto",
          detail: (incidentId) => instance.getIncident(GROUP, incidentId),
          log: createConsoleLogger(),
          now: () => new Date(now.getTime() + 60_000),
        });

      store.open({
        id,
        clusterKey: "name:WebhookCluster",
        clusterName: "WebhookCluster",
        mode: null,
        origin: "atlas",
        at: at(0),
        nextRunAt: now.getTime(),
      });
      store.journal(id, at(0), {
        step: "intake",
        status: "opened",
        detail: {
          alertId: "a1",
          event: "alert.open",
          status: "OPEN",
          metric: "CONNECTIONS_PERCENT",
          value: 86,
        },
      });
      await sync();
      expect(await webhookMessages()).toHaveLength(1);

      // More lines, same state: nothing new in the channel.
      store.journal(id, at(1), {
        step: "stats",
        status: "ok",
        detail: {
          tier: "M0",
          current: 430,
          limit: 500,
          percent: 86,
          trendPerMinute: null,
          minutesToLimit: null,
          byApp: [],
          sources: [],
          findings: [],
        },
      });
      await sync();
      expect(await webhookMessages()).toHaveLength(1);

      // A new state: a new post that says so.
      store.update(id, at(2), { state: "resolved", phase: "idle", nextRunAt: null });
      store.journal(id, at(2), {
        step: "incident",
        status: "resolved",
        detail: {
          before: { current: 430, percent: 86 },
          after: { current: 60, percent: 12 },
          note: "connections came down after the action",
        },
      });
      await sync();
      const posts = await webhookMessages();
      expect(posts).toHaveLength(2);
      expect(posts[1]!.text).toMatch(/resolved/i);
    });
  });
});
