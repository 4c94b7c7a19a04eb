/** PUBLIC_URL: parsed as an https (or loopback) base URL, and the Slack message links the incident's page. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/schema.ts";
import { isConfigError } from "../../src/errors.ts";
import type { IncidentDetail } from "../../src/incident/view.ts";
import type { SlackClient } from "../../src/slack/client.ts";
import type { SlackMessage } from "../../src/slack/render.ts";
import { type SlackState, syncSlack } from "../../src/slack/sync.ts";
import { TEST_SECRETS } from "./bindings.ts";

const base = { ...TEST_SECRETS };

describe("PUBLIC_URL", () => {
  it("is optional, and kept without a trailing slash", () => {
    expect(parseConfig(base).publicUrl).toBeUndefined();
    expect(parseConfig({ ...base, PUBLIC_URL: "https://responder.example.com/" }).publicUrl).toBe(
      "https://responder.example.com",
    );
    expect(parseConfig({ ...base, PUBLIC_URL: "http://127.0.0.1:8787" }).publicUrl).toBe(
      "http://127.0.0.1:8787",
    );
  });

  it.each(["http://responder.example.com", "javascript:alert(1)", "not a url", "ftp://x.example"])(
    "refuses %s, naming the key only",
    (value) => {
      try {
        parseConfig({ ...base, PUBLIC_URL: value });
        expect.unreachable();
      } catch (error) {
        expect(isConfigError(error)).toBe(true);
        const problems = (error as { problems: { key: string; message: string }[] }).problems;
        expect(problems.map((p) => p.key)).toEqual(["PUBLIC_URL"]);
        expect(JSON.stringify(problems)).not.toContain(value);
      }
    },
  );
});

describe("the Slack message", () => {
  const id = "e2e000000000000000000009-0000000000abcde";
  const detail: IncidentDetail = {
    id,
    cluster: { groupId: "e2e000000000000000000009", name: "Cluster0" },
    state: "open",
    openedAt: "2026-05-01T10:00:00.000Z",
    updatedAt: "2026-05-01T10:00:00.000Z",
    alerts: [],
    journal: [],
  };

  async function sent(publicUrl: string | undefined): Promise<string> {
    const messages: SlackMessage[] = [];
    const due: SlackState = {
      id,
      ts: null,
      channel: null,
      syncedSeq: 0,
      postedState: null,
      error: null,
      state: "open",
      seq: 1,
    };
    let pending = [due];
    await syncSlack({
      groupId: detail.cluster.groupId,
      store: {
        transaction: (fn) => fn(),
        slackDue: () => {
          const out = pending;
          pending = [];
          return out;
        },
        slackSynced: () => {},
        slackJournal: () => {},
      },
      slack: {
        mode: "bot",
        deliver: async (message: SlackMessage) => {
          messages.push(message);
          return { kind: "delivered", ts: "1.2", channel: "C1" };
        },
      } as unknown as SlackClient,
      approvalButtons: false,
      ...(publicUrl ? { publicUrl } : {}),
      modeOf: () => "approve",
      detail: () => detail,
      log: { log: () => {} } as never,
      now: () => new Date("2026-05-01T10:01:00.000Z"),
    });
    expect(messages).toHaveLength(1);
    return JSON.stringify(messages[0]!.blocks);
  }

  it("links to the incident's dashboard page when PUBLIC_URL is set", async () => {
    expect(await sent("https://responder.example.com")).toContain(
      `<https://responder.example.com/ui/incidents/${id}|Incident in the dashboard>`,
    );
  });

  it("has no dashboard link without it", async () => {
    expect(await sent(undefined)).not.toContain("Incident in the dashboard");
  });
});
